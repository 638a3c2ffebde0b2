#!/usr/bin/env node
// Compiles the DocumentAnchor contracts with the pinned solc-js from
// node_modules (never a downloaded compiler) and writes their committed
// artifacts:
//
//   contracts/DocumentAnchor.sol    -> src/docanchor/contracts/DocumentAnchor.json    (version 2, deployed today)
//   contracts/DocumentAnchorV1.sol  -> src/docanchor/contracts/DocumentAnchorV1.json  (version 1, kept so that
//                                      receipts of existing v1 deployments stay verifiable)
//
//   node scripts/build_contract.mjs               rebuild both artifacts
//   node scripts/build_contract.mjs --check       rebuild in memory; exit 1 if a
//                                                 committed artifact differs
//   node scripts/build_contract.mjs --out-dir D   read/write the artifacts in D instead
//
// Every compiler input is pinned (compiler version, EVM version, optimizer
// runs, metadata hash), so the same sources always give the same bytes.
import { createHash } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const NODE_MODULES = join(ROOT, "node_modules");
const ARTIFACT_DIR = "src/docanchor/contracts";
// Both sources declare `contract DocumentAnchor`; each is compiled on its own.
const TARGETS = [
  { source: "contracts/DocumentAnchor.sol", contract: "DocumentAnchor", artifact: "DocumentAnchor.json" },
  { source: "contracts/DocumentAnchorV1.sol", contract: "DocumentAnchor", artifact: "DocumentAnchorV1.json" },
];
const SOLC_VERSION = "0.8.37";
const SETTINGS = {
  // Anvil 1.7.1 defaults to a later hardfork; cancun runs on every current
  // mainnet-equivalent chain.
  evmVersion: "cancun",
  optimizer: { enabled: true, runs: 10000 },
  // No IPFS/Swarm hash of the metadata: the bytecode then depends only on the
  // code, not on comments or file paths.
  metadata: { bytecodeHash: "none" },
};
const OUTPUTS = ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"];

function die(message, code = 2) {
  process.stderr.write(`build_contract: ${message}\n`);
  process.exit(code);
}

function sha256(text) {
  return createHash("sha256").update(text, "utf8").digest("hex");
}

function parseArgs(argv) {
  const args = { check: false, outDir: join(ROOT, ARTIFACT_DIR) };
  for (let i = 0; i < argv.length; i += 1) {
    if (argv[i] === "--check") args.check = true;
    else if (argv[i] === "--out-dir" && i + 1 < argv.length) args.outDir = resolve(argv[(i += 1)]);
    else die(`unknown argument ${argv[i]} (use --check or --out-dir DIR)`);
  }
  return args;
}

function loadSolc() {
  if (!existsSync(join(NODE_MODULES, "solc"))) {
    die("node_modules/solc is missing; run scripts/setup", 3);
  }
  const require = createRequire(join(NODE_MODULES, "noop.js"));
  const solc = require("solc");
  const version = solc.version();
  if (!version.startsWith(`${SOLC_VERSION}+`)) {
    die(`expected solc ${SOLC_VERSION}, node_modules has ${version}; run scripts/setup`, 3);
  }
  return { solc, version };
}

function packageVersion(name) {
  const path = join(NODE_MODULES, name, "package.json");
  if (!existsSync(path)) die(`node_modules/${name} is missing; run scripts/setup`, 3);
  return JSON.parse(readFileSync(path, "utf8")).version;
}

function build({ solc, version }, { source: SOURCE, contract: CONTRACT }) {
  const source = readFileSync(join(ROOT, SOURCE), "utf8");
  const imported = {};
  const findImports = (path) => {
    // Only package imports resolve, and only from this checkout's node_modules.
    const file = join(NODE_MODULES, path);
    if (!path.startsWith("@openzeppelin/contracts/") || !existsSync(file)) {
      return { error: `import not found: ${path}` };
    }
    const contents = readFileSync(file, "utf8");
    imported[path] = sha256(contents);
    return { contents };
  };
  const settings = { ...SETTINGS, outputSelection: { [SOURCE]: { [CONTRACT]: OUTPUTS } } };
  const input = { language: "Solidity", sources: { [SOURCE]: { content: source } }, settings };
  const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));
  const errors = (output.errors || []).filter((e) => e.severity === "error");
  for (const e of output.errors || []) process.stderr.write(`${e.formattedMessage || e.message}\n`);
  if (errors.length > 0) die(`compilation of ${SOURCE} failed`, 1);
  const compiled = output.contracts[SOURCE][CONTRACT];
  const sources = { [SOURCE]: sha256(source) };
  for (const path of Object.keys(imported).sort()) sources[path] = imported[path];
  const artifact = {
    contractName: CONTRACT,
    sourcePath: SOURCE,
    sourceSha256: sha256(source),
    compiler: { name: "solc", version },
    dependencies: { "@openzeppelin/contracts": packageVersion("@openzeppelin/contracts") },
    settings: { evmVersion: SETTINGS.evmVersion, optimizer: SETTINGS.optimizer, metadata: SETTINGS.metadata },
    sources,
    abi: compiled.abi,
    bytecode: `0x${compiled.evm.bytecode.object}`,
    deployedBytecode: `0x${compiled.evm.deployedBytecode.object}`,
  };
  return `${JSON.stringify(artifact, null, 2)}\n`;
}

const args = parseArgs(process.argv.slice(2));
const compiler = loadSolc();
let stale = 0;
for (const target of TARGETS) {
  const text = build(compiler, target);
  const out = join(args.outDir, target.artifact);
  const shown = relative(ROOT, out) || out;
  if (args.check) {
    const committed = existsSync(out) ? readFileSync(out, "utf8") : null;
    if (committed !== text) {
      process.stderr.write(`build_contract: ${shown} is out of date; run: node scripts/build_contract.mjs\n`);
      stale += 1;
    } else {
      process.stdout.write(`${shown} is up to date\n`);
    }
  } else {
    writeFileSync(out, text);
    process.stdout.write(`wrote ${shown}\n`);
  }
}
if (stale > 0) process.exit(1);
