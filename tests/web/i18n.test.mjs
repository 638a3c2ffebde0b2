// The page's texts: every language has the same keys, and every key the
// markup and the modules name exists.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import en from "../../src/docanchor/web/js/i18n/en.js";
import es from "../../src/docanchor/web/js/i18n/es.js";

const WEB = fileURLToPath(new URL("../../src/docanchor/web/", import.meta.url));

function sources(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sources(path) : path.endsWith(".js") ? [path] : [];
  });
}

test("Spanish and English have the same keys, none empty", () => {
  assert.deepEqual(Object.keys(en).sort(), Object.keys(es).sort());
  for (const [key, text] of [...Object.entries(es), ...Object.entries(en)]) {
    assert.equal(typeof text, "string", key);
    assert.ok(text.length > 0, key);
  }
  assert.equal(es.chooseFile, "Elegir archivo");
  assert.equal(en.chooseFile, "Choose file");
});

test("every key named in the markup and the modules exists", () => {
  const html = readFileSync(join(WEB, "index.html"), "utf8");
  const named = new Set();
  for (const m of html.matchAll(/data-i18n="(\w+)"/g)) named.add(m[1]);
  for (const m of html.matchAll(/data-i18n-attr="([^"]+)"/g)) {
    for (const pair of m[1].split(";")) named.add(pair.split(":")[1]);
  }
  const files = sources(join(WEB, "js"));
  assert.ok(files.length >= 10, files.join(", "));
  for (const file of files) {
    for (const m of readFileSync(file, "utf8").matchAll(/\bt\("(\w+)"[,)]/g)) named.add(m[1]);
  }
  assert.ok(named.size >= 80, `${named.size} keys`);
  for (const key of named) assert.ok(key in es, `${key} is not a text`);
});

test("the markup's Spanish is the Spanish texts (the page reads right before its script runs)", () => {
  const html = readFileSync(join(WEB, "index.html"), "utf8");
  for (const m of html.matchAll(/data-i18n="(\w+)"[^>]*>([^<]*)</g)) {
    assert.equal(m[2], es[m[1]], m[1]);
  }
});
