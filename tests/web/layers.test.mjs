// The page's pure modules stay pure: they import only each other and name
// neither the DOM nor the network, so that node --test (and any other
// verifier) can run them as they are.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const JS = fileURLToPath(new URL("../../src/docanchor/web/js/", import.meta.url));
const PURE = ["sha256.js", "merkle.js", "jsonstrict.js", "receipt.js", "audit.js"];

test("pure modules import only pure modules and use no DOM or network", () => {
  for (const name of PURE) {
    const code = readFileSync(join(JS, name), "utf8").replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, "");
    // Every static import or re-export, on one line or several; no dynamic import.
    const from = /(?:^|[;\n])\s*(?:import|export)\s+(?:[^;"'`]*?\s+from\s*)?["']([^"']+)["']/g;
    for (const m of code.matchAll(from)) {
      assert.ok(PURE.includes(m[1].replace(/^\.\//, "")), `${name} imports ${m[1]}`);
    }
    assert.ok(!/\bimport\s*\(/.test(code), `${name} imports a module at run time`);
    const bare = code.replace(/"(?:[^"\\\n]|\\.)*"/g, '""');
    for (const word of ["document", "window", "fetch", "localStorage", "XMLHttpRequest", "navigator"]) {
      assert.ok(!new RegExp(`(?<![.\\w])${word}\\b`).test(bare), `${name} names ${word}`);
    }
  }
});
