// The page's SHA-256 against known answers (FIPS 180-2 appendix B) and
// against node:crypto for lengths around every padding boundary.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";

import { Sha256, concatBytes, fromHex, sha256, toHex } from "../../src/docanchor/web/js/sha256.js";

const enc = new TextEncoder();

test("known answers", () => {
  assert.equal(toHex(sha256(new Uint8Array(0))), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  assert.equal(toHex(sha256(enc.encode("abc"))), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  assert.equal(
    toHex(sha256(enc.encode("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"))),
    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
  );
  const million = new Sha256();
  const block = enc.encode("a".repeat(1000));
  for (let i = 0; i < 1000; i++) million.update(block);
  assert.equal(toHex(million.digest()), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
});

test("agrees with node:crypto at every padding boundary and in uneven pieces", () => {
  const sizes = [1, 3, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 1000, 65535, 65536, 65537];
  for (const size of sizes) {
    const data = new Uint8Array(randomBytes(size));
    const expected = createHash("sha256").update(data).digest("hex");
    assert.equal(toHex(sha256(data)), expected, `one piece, ${size} bytes`);
    const h = new Sha256();
    for (let p = 0, step = 1; p < data.length; p += step, step = ((step * 7 + 3) % 97) + 1) {
      h.update(data.subarray(p, p + step));
    }
    assert.equal(toHex(h.digest()), expected, `uneven pieces, ${size} bytes`);
  }
});

test("a digest is taken once; hex is lowercase both ways", () => {
  const h = new Sha256().update(new Uint8Array([1, 2, 3]));
  h.digest();
  assert.throws(() => h.digest(), /twice/);
  assert.throws(() => h.update(new Uint8Array(1)), /after digest/);
  assert.deepEqual(fromHex("00ff10"), new Uint8Array([0, 255, 16]));
  assert.throws(() => fromHex("00FF"), /not lowercase hex/);
  assert.throws(() => fromHex("abc"), /not lowercase hex/);
  assert.equal(toHex(concatBytes([new Uint8Array([1]), new Uint8Array([2, 3])])), "010203");
});
