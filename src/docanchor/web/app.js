/*
 * docanchor verification page: supplier check, receipt check, batch audit.
 *
 * Documents are hashed here, in the browser; only the SHA-256 digest (hex)
 * is ever sent to the service. This script must never upload, read into a
 * request, or log a document's bytes. No external resources: everything it
 * needs is in this file and the page it is served with.
 */
(function () {
  "use strict";

  // ---------------------------------------------------------------------------
  // SHA-256 (FIPS 180-4), incremental.
  //
  // WebCrypto has no streaming digest, so large files are read in slices and
  // fed to this implementation; it is also the fallback where
  // crypto.subtle is missing (pages served over plain HTTP off localhost).
  // ---------------------------------------------------------------------------

  var K = new Uint32Array([
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
  ]);
  var H0 = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19
  ];

  // Compresses every whole 64-byte block of data[pos, end) into h; returns the new pos.
  function compress(h, w, data, pos, end) {
    while (end - pos >= 64) {
      var i, j, t1, t2;
      for (i = 0; i < 16; i++) {
        j = pos + i * 4;
        w[i] = (data[j] << 24) | (data[j + 1] << 16) | (data[j + 2] << 8) | data[j + 3];
      }
      for (i = 16; i < 64; i++) {
        var x = w[i - 15], y = w[i - 2];
        var s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
        var s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
        w[i] = (w[i - 16] + s0 + w[i - 7] + s1) | 0;
      }
      var a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
      for (i = 0; i < 64; i++) {
        t1 = (hh +
          (((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7))) +
          ((e & f) ^ (~e & g)) + K[i] + w[i]) | 0;
        t2 = ((((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))) +
          ((a & b) ^ (a & c) ^ (b & c))) | 0;
        hh = g; g = f; f = e; e = (d + t1) | 0;
        d = c; c = b; b = a; a = (t1 + t2) | 0;
      }
      h[0] = (h[0] + a) | 0; h[1] = (h[1] + b) | 0; h[2] = (h[2] + c) | 0; h[3] = (h[3] + d) | 0;
      h[4] = (h[4] + e) | 0; h[5] = (h[5] + f) | 0; h[6] = (h[6] + g) | 0; h[7] = (h[7] + hh) | 0;
      pos += 64;
    }
    return pos;
  }

  function Sha256() {
    this.h = new Int32Array(H0);
    this.w = new Int32Array(64);
    this.buf = new Uint8Array(64);
    this.bufLen = 0;
    this.length = 0; // bytes hashed so far; exact up to 2^53
    this.done = false;
  }

  Sha256.prototype.update = function (data) {
    if (this.done) throw new Error("sha256: update after digest");
    if (!(data instanceof Uint8Array)) data = new Uint8Array(data);
    var pos = 0, n = data.length;
    this.length += n;
    if (this.bufLen > 0) {
      var take = Math.min(64 - this.bufLen, n);
      this.buf.set(data.subarray(0, take), this.bufLen);
      this.bufLen += take;
      pos = take;
      if (this.bufLen < 64) return this;
      compress(this.h, this.w, this.buf, 0, 64);
      this.bufLen = 0;
    }
    pos = compress(this.h, this.w, data, pos, n);
    if (pos < n) {
      this.buf.set(data.subarray(pos), 0);
      this.bufLen = n - pos;
    }
    return this;
  };

  Sha256.prototype.digest = function () {
    if (this.done) throw new Error("sha256: digest called twice");
    this.done = true;
    var bitsHi = Math.floor(this.length / 0x20000000); // length * 8 / 2^32
    var bitsLo = (this.length % 0x20000000) * 8;
    var pad = new Uint8Array(this.bufLen < 56 ? 64 : 128);
    pad.set(this.buf.subarray(0, this.bufLen), 0);
    pad[this.bufLen] = 0x80;
    var end = pad.length;
    pad[end - 8] = bitsHi >>> 24; pad[end - 7] = bitsHi >>> 16;
    pad[end - 6] = bitsHi >>> 8; pad[end - 5] = bitsHi;
    pad[end - 4] = bitsLo >>> 24; pad[end - 3] = bitsLo >>> 16;
    pad[end - 2] = bitsLo >>> 8; pad[end - 1] = bitsLo;
    compress(this.h, this.w, pad, 0, end);
    var out = new Uint8Array(32);
    for (var i = 0; i < 8; i++) {
      out[i * 4] = this.h[i] >>> 24; out[i * 4 + 1] = this.h[i] >>> 16;
      out[i * 4 + 2] = this.h[i] >>> 8; out[i * 4 + 3] = this.h[i];
    }
    return out;
  };

  function sha256(bytes) {
    return new Sha256().update(bytes).digest();
  }

  var HEX = [];
  for (var hx = 0; hx < 256; hx++) HEX.push((hx < 16 ? "0" : "") + hx.toString(16));

  function toHex(bytes) {
    var s = "";
    for (var i = 0; i < bytes.length; i++) s += HEX[bytes[i]];
    return s;
  }

  var HEX64 = /^[0-9a-f]{64}$/;

  function hexInto(hex, target, offset) {
    for (var i = 0; i < 32; i++) target[offset + i] = parseInt(hex.substr(i * 2, 2), 16);
  }

  // Tunables; tests lower them to exercise the chunked and paged paths.
  var config = {
    webCryptoMax: 32 * 1024 * 1024, // files up to this size go to WebCrypto in one piece
    chunkSize: 4 * 1024 * 1024,     // slice size for the incremental path
    leafPageSize: 10000,            // the API's maximum page of leaves
    leavesShown: 100,
    batchesShown: 20
  };

  function hasWebCrypto() {
    return typeof crypto !== "undefined" && !!crypto.subtle && typeof crypto.subtle.digest === "function";
  }

  // Reads the blob in slices, never holding more than one slice in memory.
  async function sha256Chunked(blob, chunkSize, onProgress) {
    var size = chunkSize || config.chunkSize;
    var h = new Sha256();
    for (var off = 0; off < blob.size; off += size) {
      var part = await blob.slice(off, Math.min(off + size, blob.size)).arrayBuffer();
      h.update(new Uint8Array(part));
      if (onProgress) onProgress(Math.min(off + size, blob.size), blob.size);
    }
    if (onProgress && blob.size === 0) onProgress(0, 0);
    return toHex(h.digest());
  }

  async function sha256WebCrypto(blob) {
    var buf = await blob.arrayBuffer();
    return toHex(new Uint8Array(await crypto.subtle.digest("SHA-256", buf)));
  }

  // The file's SHA-256 as 64 lowercase hex characters.
  async function hashFile(blob, onProgress) {
    if (hasWebCrypto() && blob.size <= config.webCryptoMax) {
      var digest = await sha256WebCrypto(blob);
      if (onProgress) onProgress(blob.size, blob.size);
      return digest;
    }
    return sha256Chunked(blob, config.chunkSize, onProgress);
  }

  // RFC 9162 Merkle Tree Hash over leaf hashes packed 32 bytes apiece.
  // Pairing level by level and promoting an odd last node unchanged gives the
  // same tree as splitting at the largest power of two below n.
  function merkleRoot(leaves, count) {
    if (count === 0) return sha256(new Uint8Array(0));
    var level = leaves, n = count;
    var block = new Uint8Array(65);
    block[0] = 0x01;
    while (n > 1) {
      var m = Math.ceil(n / 2);
      var next = new Uint8Array(m * 32);
      for (var i = 0; i + 1 < n; i += 2) {
        block.set(level.subarray(i * 32, i * 32 + 64), 1);
        next.set(sha256(block), (i / 2) * 32);
      }
      if (n % 2 === 1) next.set(level.subarray((n - 1) * 32, n * 32), (m - 1) * 32);
      level = next;
      n = m;
    }
    return level.slice(0, 32);
  }

  // log-v1 section 3, range check: the compact range of the log at size
  // `first` (hex, largest subtree first), then `count` leaf hashes packed 32
  // bytes apiece, appended (equal-sized neighbours merged) and folded right to
  // left. The result is the root of the log at size first + count.
  function rangeRoot(compact, first, leaves, count) {
    if (!Number.isSafeInteger(first) || first < 0) throw new Error("first_index " + first);
    var expected = 0;
    for (var x = first; x > 0; x = Math.floor(x / 2)) expected += x % 2;
    if (!Array.isArray(compact) || compact.length !== expected) throw new Error("compact_range");
    var stack = compact.map(function (hex) {
      if (!HEX64.test(hex)) throw new Error("compact_range");
      var v = new Uint8Array(32);
      hexInto(hex, v, 0);
      return v;
    });
    var block = new Uint8Array(65);
    block[0] = 0x01;
    for (var i = 0; i < count; i++) {
      var node = leaves.slice(i * 32, i * 32 + 32);
      // Leaf number `size` closes one perfect subtree per trailing 1 bit of size.
      for (var s = first + i; s % 2 === 1; s = (s - 1) / 2) {
        block.set(stack.pop(), 1);
        block.set(node, 33);
        node = sha256(block);
      }
      stack.push(node);
    }
    if (!stack.length) return sha256(new Uint8Array(0));
    var root = stack[stack.length - 1];
    for (var j = stack.length - 2; j >= 0; j--) {
      block.set(stack[j], 1);
      block.set(root, 33);
      root = sha256(block);
    }
    return root;
  }

  // ---------------------------------------------------------------------------
  // Texts. Spanish first: the page's users are Peruvian suppliers and public
  // servants. Details sent by the API are shown as they come (in English).
  // ---------------------------------------------------------------------------

  var TEXT = {
    es: {
      title: "docanchor · Verificación de documentos",
      skip: "Saltar al contenido",
      brandSub: "Verificación de documentos",
      navLabel: "Secciones",
      navVerify: "Verificar documento",
      navReceipt: "Verificar constancia",
      navBatches: "Auditoría de lotes",
      navAudit: "Auditoría de un periodo",
      langButton: "English",
      langButtonLabel: "Switch to English",
      verifyTitle: "¿Es auténtico este documento?",
      verifyIntro: "Seleccione o arrastre el archivo tal como lo recibió. La verificación empieza de inmediato.",
      dropTitle: "Archivo a verificar",
      dropHint: "Arrastre el archivo aquí o use el botón para elegirlo.",
      privacy: "Su archivo no sale de su equipo: la huella SHA-256 se calcula en este navegador y solo esa huella (64 caracteres) se envía al servicio.",
      hashing: "Calculando la huella de «{name}» en su navegador…",
      hashProgress: "{done} de {total} leídos",
      querying: "Consultando el registro…",
      fileLine: "Archivo: {name} ({size})",
      stampedLine: "PDF sellado: el documento original son sus primeros {n} bytes; se comprueba ese original, y la constancia va adjunta al PDF. Para comprobarla con su propio nodo, sin el servicio, elija este PDF en «Verificar constancia».",
      stampChanged: "Este PDF lleva un sello de docanchor, pero su parte original ya no termina donde el sello indica: el archivo fue modificado después de sellarse.",
      landingLine: "Documento con la huella {digest}, abierto desde su código QR.",
      landingTitle: "Estado del documento: {status}",
      landingVerdict: "Este es el registro del documento que nombra el código QR; todavía no se ha comprobado ningún archivo.",
      landingDigestLabel: "Huella SHA-256 que indica el código QR",
      landingInvite: "Elija su copia del archivo para comprobarla byte por byte: su huella se calcula en este navegador y se compara con esta.",
      landingMatch: "Su copia coincide byte por byte con el documento del código QR.",
      landingMismatch: "Su copia NO coincide con el documento del código QR: su huella es otra.",
      digestLabel: "Huella SHA-256 calculada en su navegador",
      stConfirmedTitle: "Documento auténtico y confirmado",
      stConfirmedText: "Este archivo es idéntico, byte por byte, al documento registrado, y su registro está anclado y confirmado en la cadena de bloques.",
      stAnchoredTitle: "Registrado, aún no confirmado",
      stAnchoredText: "El documento está registrado y su lote ya fue anclado en la cadena de bloques; falta alcanzar el número de confirmaciones requerido. Vuelva a consultar en unos minutos.",
      stSealedTitle: "Registrado, aún no confirmado",
      stSealedText: "El documento está registrado e incluido en un lote que todavía no se ancla en la cadena de bloques. Vuelva a consultar en unos minutos.",
      stPendingTitle: "Registrado, aún no confirmado",
      stPendingText: "El documento está registrado y espera ser incluido en el próximo lote que se anclará en la cadena de bloques.",
      stNotFoundTitle: "Documento no registrado",
      stNotFoundText: "No hay ningún registro de un documento con esta huella. Si el archivo fue modificado, aunque sea en un solo byte, su huella es completamente distinta: pida el archivo original a la entidad.",
      registration: "Registro {n}",
      status: "Estado",
      status_confirmed: "Confirmado",
      status_anchored: "Anclado, esperando confirmaciones",
      status_sealed: "En lote, sin anclar aún",
      status_pending: "Pendiente de lote",
      status_not_found: "No registrado",
      entity: "Entidad (RUC)",
      reference: "Referencia",
      docType: "Tipo de documento",
      version: "Versión",
      registeredAt: "Registrado el",
      anchoredAt: "Anclado el",
      block: "Bloque",
      blockHash: "Hash del bloque",
      transaction: "Transacción",
      batch: "Lote",
      batchLink: "Lote n.º {id}",
      seq: "Secuencia en el contrato",
      network: "Red (chain id)",
      contract: "Contrato",
      notAnchoredYet: "Aún no anclado",
      none: "—",
      copy: "Copiar",
      copyTx: "Copiar el hash de la transacción",
      copied: "Copiado al portapapeles.",
      copiedShort: "Copiado ✓",
      copyFailed: "No se pudo copiar; seleccione el texto y cópielo manualmente.",
      downloadReceipt: "Descargar constancia (JSON)",
      receiptFileName: "constancia",
      versionsTitle: "Versiones registradas bajo la referencia {ref}",
      versionsNone: "No hay otras versiones registradas.",
      colVersion: "Versión",
      colDigest: "Huella SHA-256",
      colStatus: "Estado",
      colRegistered: "Registrado el",
      thisDocument: "este documento",
      errorNetwork: "No se pudo contactar con el servicio. Revise su conexión e inténtelo de nuevo.",
      errorGeneric: "Ocurrió un error",
      errorReadFile: "No se pudo leer el archivo: {msg}",
      receiptTitle: "Verificar una constancia",
      receiptIntro: "Cargue la constancia (archivo JSON) que recibió al registrar el documento. Si adjunta también el documento, se comprueba que la constancia le corresponde; su contenido tampoco sale de su equipo.",
      receiptFileLabel: "Constancia (JSON) o PDF sellado",
      receiptFileHint: "Obligatorio. El archivo descargado con el botón «Descargar constancia».",
      receiptDocLabel: "Documento (opcional)",
      receiptDocHint: "Opcional. Se calcula su huella en este navegador; el archivo no se envía.",
      receiptSubmit: "Verificar constancia",
      receiptRpcLabel: "Su nodo Ethereum (URL JSON-RPC, opcional)",
      receiptRpcHint: "Con un nodo, la constancia se comprueba por completo en este navegador: los pasos 1 a 4 aquí mismo y los pasos 5 a 7 preguntando a ese nodo, sin consultar al servicio. También puede indicarlo en la dirección de la página con ?rpc=URL.",
      nodeAnswered: "Respondió su nodo: {node} (chain id {chain}). El servicio no fue consultado.",
      serviceAnswered: "Respondió el servicio docanchor, con su propio nodo. Indique un nodo suyo para no depender del servicio.",
      nodeUnreachable: "No se pudo contactar con el nodo {node}.",
      nodeFailed: "La comprobación con el nodo {node} falló: {msg}",
      nodeBadUrl: "La URL del nodo debe empezar con http:// o https://.",
      receiptMissing: "Elija primero el archivo de la constancia.",
      receiptNotJson: "El archivo de la constancia no es un JSON válido: {msg}",
      receiptChecking: "Verificando la constancia…",
      receiptValid: "Constancia válida",
      receiptInvalid: "Constancia no válida",
      receiptConfirmations: "Confirmaciones: {n} (se requieren {req}).",
      checksCaption: "Comprobaciones (especificación, sección 6)",
      colStep: "Paso",
      colCheck: "Comprobación",
      colOutcome: "Resultado",
      colDetail: "Detalle",
      outcomeOk: "Correcto",
      outcomeFail: "Falló",
      outcomeSkipped: "Omitido",
      check_document: "El documento corresponde a la constancia",
      check_metadata: "Los metadatos corresponden a su huella",
      check_leaf: "Hoja recalculada",
      check_merkle_proof: "Hoja recalculada y prueba de inclusión (árbol de Merkle)",
      check_chain_record: "Registro en el contrato de la cadena de bloques",
      check_block_hash: "El bloque sigue en la cadena",
      check_confirmations: "Confirmaciones suficientes",
      check_signature: "Firma del servicio",
      receiptMalformed: "La constancia está mal formada y no se verificó: {msg}",
      strictDuplicate: "el miembro «{key}» aparece dos veces en un mismo objeto",
      strictFloat: "el número {text} tiene decimales o exponente; solo se admiten enteros",
      strictConstant: "{text} no es JSON",
      strictDepth: "anida más de {max} niveles",
      strictSyntax: "no es un JSON válido (posición {pos})",
      receiptUntrusted: "Anclada en {contract} en la cadena {chain}, que no es un despliegue de docanchor en el que confíe este verificador.",
      receiptUntrustedHint: "Este servicio solo da por válidas las constancias de sus propios contratos. No se consultó la cadena de bloques.",
      sigOk: "Firma del servicio: verificada en este navegador (clave {key}).",
      sigBad: "Firma del servicio: no es válida; la constancia se modificó después de firmarse o la firma es falsa.",
      sigUnknownKey: "Firma del servicio: hecha con una clave que este servicio no publica.",
      sigUnchecked: "Firma del servicio: no comprobada (este navegador no puede comprobar firmas Ed25519).",
      sigNone: "La constancia no lleva firma del servicio.",
      batchesTitle: "Lotes anclados",
      batchesIntro: "Cada lote agrupa huellas de documentos en un árbol de Merkle (RFC 9162); su raíz se publica en la cadena de bloques.",
      batchesLoading: "Cargando lotes…",
      batchesCaption: "Lotes {from}–{to} de {total}",
      batchesNone: "Todavía no hay lotes.",
      colBatch: "Lote",
      colSize: "Documentos",
      colRoot: "Raíz",
      colSeq: "Secuencia",
      colTx: "Transacción",
      colBlock: "Bloque",
      colConfirmations: "Confirmaciones",
      prev: "Anterior",
      next: "Siguiente",
      prevBatches: "Lotes anteriores",
      nextBatches: "Lotes siguientes",
      prevLeaves: "Hojas anteriores",
      nextLeaves: "Hojas siguientes",
      pageOf: "Página {page} de {pages}",
      backToBatches: "← Todos los lotes",
      batchTitle: "Lote n.º {id}",
      batchLoading: "Cargando el lote…",
      size: "Documentos (hojas)",
      root: "Raíz registrada",
      confirmations: "Confirmaciones",
      sealedAt: "Sellado el",
      recomputeTitle: "Recalcular la raíz en este navegador",
      recomputeIntro: "Descarga todas las hojas del lote y recalcula la raíz del árbol (RFC 9162) aquí mismo, sin confiar en el servicio, para compararla con la raíz registrada.",
      recomputeBtn: "Recalcular la raíz aquí",
      recomputeFetching: "Descargando hojas: {done} de {total}…",
      recomputeHashing: "Calculando la raíz de {total} hojas…",
      recomputeMatch: "Coincide: la raíz recalculada en su navegador es igual a la raíz registrada del lote.",
      recomputeMismatch: "No coincide: la raíz recalculada en su navegador es distinta de la raíz registrada del lote.",
      recomputeComputed: "Raíz recalculada",
      recomputeRecorded: "Raíz registrada",
      recomputeBadLeaves: "El servicio devolvió hojas inválidas o incompletas: {msg}",
      leavesTitle: "Hojas del árbol",
      leavesCaption: "Hojas {from}–{to} de {total}",
      colIndex: "Índice",
      colLeaf: "Hash de la hoja",
      tableScroll: "Tabla desplazable",
      footer: "docanchor: las huellas se anclan en una cadena de bloques; cualquier persona puede comprobarlas con la constancia y un nodo propio.",
      notFoundPage: "Página no encontrada.",
      bytes: "bytes"
    },
    en: {
      title: "docanchor · Document verification",
      skip: "Skip to content",
      brandSub: "Document verification",
      navLabel: "Sections",
      navVerify: "Verify a document",
      navReceipt: "Verify a receipt",
      navBatches: "Batch audit",
      navAudit: "Period audit",
      langButton: "Español",
      langButtonLabel: "Cambiar a español",
      verifyTitle: "Is this document authentic?",
      verifyIntro: "Pick or drop the file exactly as you received it. The check starts at once.",
      dropTitle: "File to check",
      dropHint: "Drop the file here or use the button to choose it.",
      privacy: "Your file never leaves your device: its SHA-256 fingerprint is computed in this browser and only that fingerprint (64 characters) is sent to the service.",
      hashing: "Computing the fingerprint of “{name}” in your browser…",
      hashProgress: "{done} of {total} read",
      querying: "Looking up the register…",
      fileLine: "File: {name} ({size})",
      stampedLine: "Stamped PDF: the original document is its first {n} bytes; that original is checked, and the receipt is attached to the PDF. To check it with your own node, without the service, choose this PDF in «Verify receipt».",
      stampChanged: "This PDF carries a docanchor stamp, but its original part no longer ends where the stamp says: the file was changed after it was stamped.",
      landingLine: "Document with the fingerprint {digest}, opened from its QR code.",
      landingTitle: "Document status: {status}",
      landingVerdict: "This is the record of the document the QR code names; no file has been checked yet.",
      landingDigestLabel: "SHA-256 fingerprint named by the QR code",
      landingInvite: "Choose your copy of the file to check it byte for byte: its fingerprint is computed in this browser and compared with this one.",
      landingMatch: "Your copy matches the document of the QR code byte for byte.",
      landingMismatch: "Your copy does NOT match the document of the QR code: its fingerprint differs.",
      digestLabel: "SHA-256 fingerprint computed in your browser",
      stConfirmedTitle: "Authentic document, confirmed",
      stConfirmedText: "This file is identical, byte for byte, to the registered document, and its registration is anchored and confirmed on the blockchain.",
      stAnchoredTitle: "Registered, not yet confirmed",
      stAnchoredText: "The document is registered and its batch is anchored on the blockchain; it has not yet reached the required number of confirmations. Check again in a few minutes.",
      stSealedTitle: "Registered, not yet confirmed",
      stSealedText: "The document is registered and included in a batch that is not yet anchored on the blockchain. Check again in a few minutes.",
      stPendingTitle: "Registered, not yet confirmed",
      stPendingText: "The document is registered and waits to be included in the next batch anchored on the blockchain.",
      stNotFoundTitle: "Document not registered",
      stNotFoundText: "There is no registration of a document with this fingerprint. If the file was changed, even by a single byte, its fingerprint is completely different: ask the entity for the original file.",
      registration: "Registration {n}",
      status: "Status",
      status_confirmed: "Confirmed",
      status_anchored: "Anchored, awaiting confirmations",
      status_sealed: "In a batch, not yet anchored",
      status_pending: "Waiting for a batch",
      status_not_found: "Not registered",
      entity: "Entity (RUC)",
      reference: "Reference",
      docType: "Document type",
      version: "Version",
      registeredAt: "Registered on",
      anchoredAt: "Anchored on",
      block: "Block",
      blockHash: "Block hash",
      transaction: "Transaction",
      batch: "Batch",
      batchLink: "Batch no. {id}",
      seq: "Sequence in the contract",
      network: "Network (chain id)",
      contract: "Contract",
      notAnchoredYet: "Not anchored yet",
      none: "—",
      copy: "Copy",
      copyTx: "Copy the transaction hash",
      copied: "Copied to the clipboard.",
      copiedShort: "Copied ✓",
      copyFailed: "Could not copy; select the text and copy it by hand.",
      downloadReceipt: "Download receipt (JSON)",
      receiptFileName: "receipt",
      versionsTitle: "Versions registered under reference {ref}",
      versionsNone: "No other versions are registered.",
      colVersion: "Version",
      colDigest: "SHA-256 fingerprint",
      colStatus: "Status",
      colRegistered: "Registered on",
      thisDocument: "this document",
      errorNetwork: "Could not reach the service. Check your connection and try again.",
      errorGeneric: "An error occurred",
      errorReadFile: "Could not read the file: {msg}",
      receiptTitle: "Verify a receipt",
      receiptIntro: "Load the receipt (JSON file) you received when the document was registered. If you also attach the document, the page checks that the receipt belongs to it; its content does not leave your device either.",
      receiptFileLabel: "Receipt (JSON) or stamped PDF",
      receiptFileHint: "Required. The file saved with the “Download receipt” button.",
      receiptDocLabel: "Document (optional)",
      receiptDocHint: "Optional. Its fingerprint is computed in this browser; the file is not sent.",
      receiptSubmit: "Verify receipt",
      receiptRpcLabel: "Your Ethereum node (JSON-RPC URL, optional)",
      receiptRpcHint: "With a node, the receipt is checked entirely in this browser: steps 1 to 4 here and steps 5 to 7 by asking that node, without asking the service. You can also give it in the page's address with ?rpc=URL.",
      nodeAnswered: "Your node answered: {node} (chain id {chain}). The service was not asked.",
      serviceAnswered: "The docanchor service answered, with its own node. Give a node of your own to rely on no service.",
      nodeUnreachable: "The node {node} could not be reached.",
      nodeFailed: "The check with the node {node} failed: {msg}",
      nodeBadUrl: "The node's URL must start with http:// or https://.",
      receiptMissing: "First choose the receipt file.",
      receiptNotJson: "The receipt file is not valid JSON: {msg}",
      receiptChecking: "Verifying the receipt…",
      receiptValid: "Valid receipt",
      receiptInvalid: "Invalid receipt",
      receiptConfirmations: "Confirmations: {n} ({req} required).",
      checksCaption: "Checks (specification, section 6)",
      colStep: "Step",
      colCheck: "Check",
      colOutcome: "Outcome",
      colDetail: "Detail",
      outcomeOk: "Passed",
      outcomeFail: "Failed",
      outcomeSkipped: "Skipped",
      check_document: "The document matches the receipt",
      check_metadata: "The metadata matches its digest",
      check_leaf: "Leaf recomputed",
      check_merkle_proof: "Leaf recomputed and Merkle inclusion proof",
      check_chain_record: "Record in the blockchain contract",
      check_block_hash: "The block is still on the chain",
      check_confirmations: "Enough confirmations",
      check_signature: "Service signature",
      receiptMalformed: "The receipt is malformed and was not checked: {msg}",
      strictDuplicate: "the member '{key}' appears twice in one object",
      strictFloat: "the number {text} has a fraction or exponent; only integers are allowed",
      strictConstant: "{text} is not JSON",
      strictDepth: "it is nested more than {max} levels deep",
      strictSyntax: "it is not valid JSON (position {pos})",
      receiptUntrusted: "Anchored in {contract} on chain {chain}, which is not a docanchor deployment this verifier trusts.",
      receiptUntrustedHint: "This service only accepts receipts from its own contracts. The blockchain was not asked.",
      sigOk: "Service signature: verified in this browser (key {key}).",
      sigBad: "Service signature: it does not verify; the receipt was altered after it was signed, or the signature is forged.",
      sigUnknownKey: "Service signature: made with a key this service does not publish.",
      sigUnchecked: "Service signature: not checked (this browser cannot check Ed25519 signatures).",
      sigNone: "The receipt carries no service signature.",
      batchesTitle: "Anchored batches",
      batchesIntro: "Each batch gathers document fingerprints in a Merkle tree (RFC 9162); its root is published on the blockchain.",
      batchesLoading: "Loading batches…",
      batchesCaption: "Batches {from}–{to} of {total}",
      batchesNone: "There are no batches yet.",
      colBatch: "Batch",
      colSize: "Documents",
      colRoot: "Root",
      colSeq: "Sequence",
      colTx: "Transaction",
      colBlock: "Block",
      colConfirmations: "Confirmations",
      prev: "Previous",
      next: "Next",
      prevBatches: "Previous batches",
      nextBatches: "Next batches",
      prevLeaves: "Previous leaves",
      nextLeaves: "Next leaves",
      pageOf: "Page {page} of {pages}",
      backToBatches: "← All batches",
      batchTitle: "Batch no. {id}",
      batchLoading: "Loading the batch…",
      size: "Documents (leaves)",
      root: "Root on record",
      confirmations: "Confirmations",
      sealedAt: "Sealed on",
      recomputeTitle: "Recompute the root in this browser",
      recomputeIntro: "Downloads every leaf of the batch and recomputes the tree's root (RFC 9162) right here, without trusting the service, to compare it with the root on record.",
      recomputeBtn: "Recompute the root here",
      recomputeFetching: "Downloading leaves: {done} of {total}…",
      recomputeHashing: "Computing the root of {total} leaves…",
      recomputeMatch: "Match: the root recomputed in your browser equals the batch's root on record.",
      recomputeMismatch: "Mismatch: the root recomputed in your browser differs from the batch's root on record.",
      recomputeComputed: "Recomputed root",
      recomputeRecorded: "Root on record",
      recomputeBadLeaves: "The service returned invalid or incomplete leaves: {msg}",
      leavesTitle: "Tree leaves",
      leavesCaption: "Leaves {from}–{to} of {total}",
      colIndex: "Index",
      colLeaf: "Leaf hash",
      tableScroll: "Scrollable table",
      footer: "docanchor: fingerprints are anchored on a blockchain; anyone can check them with the receipt and a node of their own.",
      notFoundPage: "Page not found.",
      bytes: "bytes"
    }
  };

  var LANG_KEY = "docanchor.lang";
  var lang = "es";

  function t(key, vars) {
    var text = TEXT[lang][key];
    if (text === undefined) text = TEXT.es[key];
    if (text === undefined) return key;
    if (vars) {
      text = text.replace(/\{(\w+)\}/g, function (m, name) {
        return Object.prototype.hasOwnProperty.call(vars, name) ? String(vars[name]) : m;
      });
    }
    return text;
  }

  function storedLang() {
    try {
      var v = window.localStorage.getItem(LANG_KEY);
      return v === "en" || v === "es" ? v : null;
    } catch (e) {
      return null; // storage disabled: fall back to the default
    }
  }

  function setLang(next, remember) {
    lang = next;
    if (remember) {
      try { window.localStorage.setItem(LANG_KEY, next); } catch (e) { /* not kept; still switched */ }
    }
    document.documentElement.lang = next;
    document.title = t("title");
    document.querySelectorAll("[data-i18n]").forEach(function (el) {
      el.textContent = t(el.getAttribute("data-i18n"));
    });
    document.querySelectorAll("[data-i18n-attr]").forEach(function (el) {
      el.getAttribute("data-i18n-attr").split(";").forEach(function (pair) {
        var parts = pair.split(":");
        el.setAttribute(parts[0], t(parts[1]));
      });
    });
    var toggle = document.getElementById("lang-toggle");
    toggle.textContent = t("langButton");
    toggle.setAttribute("lang", next === "es" ? "en" : "es");
    toggle.setAttribute("aria-label", t("langButtonLabel"));
    rerender();
  }

  // ---------------------------------------------------------------------------
  // Small DOM helpers. Text always goes in via textContent, never as HTML.
  // ---------------------------------------------------------------------------

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        var v = attrs[k];
        if (v === null || v === undefined || v === false) return;
        if (k === "text") node.textContent = v;
        else if (k === "className") node.className = v;
        else if (k.slice(0, 2) === "on") node.addEventListener(k.slice(2), v);
        else node.setAttribute(k, v === true ? "" : v);
      });
    }
    (children || []).forEach(function (c) {
      if (c === null || c === undefined || c === false) return;
      node.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    });
    return node;
  }

  function $(id) { return document.getElementById(id); }

  function appendIf(parent, child) { if (child) parent.appendChild(child); }

  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

  function formatBytes(n) {
    var nf = new Intl.NumberFormat(lang === "es" ? "es-PE" : "en-US", { maximumFractionDigits: 1 });
    if (n < 1024) return nf.format(n) + " " + t("bytes");
    var units = ["KiB", "MiB", "GiB", "TiB"], v = n / 1024, u = 0;
    while (v >= 1024 && u < units.length - 1) { v /= 1024; u++; }
    return nf.format(v) + " " + units[u];
  }

  function formatNumber(n) {
    if (n === null || n === undefined) return t("none");
    return new Intl.NumberFormat(lang === "es" ? "es-PE" : "en-US").format(n);
  }

  // Block numbers and sequence numbers are identifiers: shown without separators.
  function plainNumber(n) {
    return n === null || n === undefined ? t("none") : String(n);
  }

  // Times are shown in Lima time, where the register's users are.
  function formatTime(value) {
    if (value === null || value === undefined || value === "") return t("none");
    var text = typeof value === "string" ? value.replace(/([+-]\d\d:\d\d)Z$/, "$1") : value;
    var d = typeof text === "number" ? new Date(text * 1000) : new Date(text);
    if (isNaN(d.getTime())) return String(value);
    try {
      return new Intl.DateTimeFormat(lang === "es" ? "es-PE" : "en-GB", {
        dateStyle: "long", timeStyle: "medium", timeZone: "America/Lima"
      }).format(d) + " (" + (lang === "es" ? "hora de Lima" : "Lima time") + ")";
    } catch (e) {
      return d.toISOString();
    }
  }

  function shortHash(h) {
    if (!h) return t("none");
    return h.length > 20 ? h.slice(0, 10) + "…" + h.slice(-8) : h;
  }

  function hashCode(value, extraClass) {
    return el("code", { className: "hash" + (extraClass ? " " + extraClass : ""), text: value });
  }

  function announce(regionId, text) {
    var region = $(regionId);
    clear(region);
    if (text) region.appendChild(el("p", { text: text }));
  }

  function showProgress(prefix, done, total, label) {
    var row = $(prefix + "-progress");
    row.hidden = false;
    var bar = $(prefix + "-progress-bar");
    bar.max = total > 0 ? total : 1;
    bar.value = total > 0 ? done : 1;
    $(prefix + "-progress-label").textContent = label;
  }

  function hideProgress(prefix) { $(prefix + "-progress").hidden = true; }

  async function copyText(text) {
    try {
      if (navigator.clipboard && window.isSecureContext) {
        await navigator.clipboard.writeText(text);
        return true;
      }
    } catch (e) { /* fall through to the selection-based copy */ }
    var area = el("textarea", { readonly: true, "aria-hidden": "true", className: "offscreen" });
    area.value = text;
    document.body.appendChild(area);
    area.select();
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    document.body.removeChild(area);
    return ok;
  }

  // The outcome is spoken through its own live region so that the verdict
  // shown in the view's status region stays in place.
  function copyButton(text, label) {
    var button = el("button", {
      type: "button", className: "btn btn-small", "aria-label": label,
      onclick: async function () {
        var ok = await copyText(text);
        announce("sr-notice", ok ? t("copied") : t("copyFailed"));
        button.textContent = ok ? t("copiedShort") : t("copy");
        setTimeout(function () { button.textContent = t("copy"); }, 2500);
      }
    }, [t("copy")]);
    return button;
  }

  function downloadJson(data, filename) {
    var blob = new Blob([JSON.stringify(data, null, 2) + "\n"], { type: "application/json" });
    var url = URL.createObjectURL(blob);
    var a = el("a", { href: url, download: filename, className: "offscreen" });
    document.body.appendChild(a);
    a.click();
    document.body.removeChild(a);
    setTimeout(function () { URL.revokeObjectURL(url); }, 10000);
  }

  function scrollTable(table) {
    // A focusable, labelled scroll container lets keyboard users scroll wide tables.
    return el("div", { className: "table-scroll", tabindex: "0", role: "region", "aria-label": t("tableScroll") }, [table]);
  }

  function dl(rows) {
    var list = el("dl", { className: "facts" });
    rows.forEach(function (r) {
      if (!r) return;
      list.appendChild(el("div", { className: "fact" }, [el("dt", { text: r[0] }), el("dd", null, [r[1]])]));
    });
    return list;
  }

  // ---------------------------------------------------------------------------
  // API access. Errors are RFC 9457 problem details ({title, detail}).
  // ---------------------------------------------------------------------------

  function ApiError(message, status) {
    this.message = message;
    this.status = status;
  }

  async function api(method, path, body, rawText) {
    var init = { method: method, headers: { Accept: "application/json" } };
    if (body !== undefined || rawText !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = rawText !== undefined ? rawText : JSON.stringify(body);
    }
    var res;
    try {
      res = await fetch(path, init);
    } catch (e) {
      throw new ApiError(t("errorNetwork"), 0);
    }
    var data = null;
    try { data = await res.json(); } catch (e) { data = null; }
    if (!res.ok) {
      var msg = t("errorGeneric") + " (HTTP " + res.status + ")";
      if (data && (data.title || data.detail)) {
        msg = [data.title, data.detail].filter(Boolean).join(": ");
        if (data.request_id) msg += " [" + data.request_id + "]";
      }
      throw new ApiError(msg, res.status);
    }
    return data;
  }

  function errorBox(message) {
    return el("div", { className: "notice notice-bad" }, [el("p", { text: message })]);
  }

  // ---------------------------------------------------------------------------
  // Stamped PDFs ("docanchor stamp, version 1", docs/stamping.md): the original
  // is the file's first N bytes and the receipt lies, unfiltered, at O..O+L.
  // ---------------------------------------------------------------------------

  var STAMP_MARKER = "\n%docanchor-stamp/1\n";
  var STAMP_RECORD = /\/DocAnchorOriginalLength (0|[1-9][0-9]{0,14}) \/DocAnchorOriginalSHA256 \(([0-9a-f]{64})\) \/DocAnchorReceiptOffset ([1-9][0-9]{0,14}) \/DocAnchorReceiptLength ([1-9][0-9]{0,14})/g;
  var STAMP_TAIL = 1024 * 1024; // the update is a few KB; the record is in the file's end

  // One character per byte, so that offsets in the string are offsets in the bytes.
  function latin1(bytes) {
    var parts = [];
    for (var i = 0; i < bytes.length; i += 0x8000) {
      parts.push(String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000)));
    }
    return parts.join("");
  }

  // null (not stamped), {changed: true}, or {originalLength, receipt (bytes), recordedSha256}.
  async function readStamp(file) {
    var head = latin1(new Uint8Array(await file.slice(0, 1024).arrayBuffer()));
    if (head.indexOf("%PDF-") < 0) return null;
    var start = Math.max(0, file.size - STAMP_TAIL);
    var tail = new Uint8Array(await file.slice(start).arrayBuffer());
    var text = latin1(tail);
    var matches = [], m;
    STAMP_RECORD.lastIndex = 0;
    while ((m = STAMP_RECORD.exec(text)) !== null) matches.push(m);
    for (var i = matches.length - 1; i >= 0; i--) {
      m = matches[i];
      var n = Number(m[1]), offset = Number(m[3]), length = Number(m[4]);
      if (n < start || text.substr(n - start, STAMP_MARKER.length) !== STAMP_MARKER) continue;
      if (offset < n + STAMP_MARKER.length || offset + length > file.size) continue;
      if (start + m.index < offset + length) continue;
      return {
        originalLength: n,
        receipt: tail.slice(offset - start, offset - start + length),
        recordedSha256: m[2]
      };
    }
    return matches.length ? { changed: true } : null;
  }

  // ---------------------------------------------------------------------------
  // Supplier view.
  // ---------------------------------------------------------------------------

  var verifyState = null; // {file, digest, data, stamp} or {file, error}; file null on the QR landing
  var verifyRun = 0;
  var landingDigest = null; // the SHA-256 named by ?sha256= (the QR code of a stamped PDF)

  async function openLanding(digest) {
    var run = ++verifyRun;
    landingDigest = digest;
    announce("verify-status", t("querying"));
    try {
      var data = await api("POST", "/v1/verify", { sha256: digest });
      if (run !== verifyRun) return;
      verifyState = { file: null, digest: digest, data: data };
    } catch (e) {
      if (run !== verifyRun) return;
      verifyState = { file: null, digest: digest, error: e.message };
    }
    renderVerify();
  }

  async function verifyFile(file) {
    var run = ++verifyRun;
    verifyState = null;
    clear($("verify-result"));
    $("verify-result").setAttribute("aria-busy", "true");
    announce("verify-status", t("hashing", { name: file.name }));
    var digest, stamp = null;
    try {
      stamp = await readStamp(file);
      if (run !== verifyRun) return;
      if (stamp && stamp.changed) {
        verifyState = { file: file, error: t("stampChanged") };
        renderVerify();
        return;
      }
      digest = await hashFile(stamp ? file.slice(0, stamp.originalLength) : file, function (done, total) {
        if (run !== verifyRun) return;
        showProgress("verify", done, total, t("hashProgress", { done: formatBytes(done), total: formatBytes(total) }));
      });
    } catch (e) {
      if (run !== verifyRun) return;
      hideProgress("verify");
      verifyState = { file: file, error: t("errorReadFile", { msg: e && e.message ? e.message : String(e) }) };
      renderVerify();
      return;
    }
    if (run !== verifyRun) return;
    hideProgress("verify");
    announce("verify-status", t("querying"));
    try {
      var data = await api("POST", "/v1/verify", { sha256: digest });
      if (run !== verifyRun) return;
      verifyState = { file: file, digest: digest, data: data, stamp: stamp };
    } catch (e) {
      if (run !== verifyRun) return;
      verifyState = { file: file, digest: digest, error: e.message, stamp: stamp };
    }
    renderVerify();
  }

  var STATUS_VIEW = {
    confirmed: { key: "Confirmed", tone: "good" },
    anchored: { key: "Anchored", tone: "wait" },
    sealed: { key: "Sealed", tone: "wait" },
    pending: { key: "Pending", tone: "wait" },
    not_found: { key: "NotFound", tone: "bad" }
  };

  function receiptFor(data, reg, index) {
    var receipts = data.receipts || [];
    if (receipts.length === (data.registrations || []).length && receipts[index]) return receipts[index];
    for (var i = 0; i < receipts.length; i++) {
      var r = receipts[i];
      var meta = (r.document && r.document.metadata) || {};
      var batchId = r.batch ? r.batch.id : null;
      if ((reg.batch_id === undefined || batchId === reg.batch_id) && (meta.reference || null) === (reg.reference || null)) return r;
    }
    return receipts[index] || null;
  }

  function renderRegistration(data, reg, index, count) {
    var a = reg.anchor;
    var txRow = null;
    if (a && a.tx_hash) {
      txRow = [t("transaction"), el("span", { className: "hash-row" }, [
        hashCode(a.tx_hash, "selectable"),
        copyButton(a.tx_hash, t("copyTx"))
      ])];
    }
    var statusWord = t("status_" + (reg.status || "not_found"));
    var rows = [
      [t("status"), el("span", { className: "pill pill-" + (STATUS_VIEW[reg.status] || STATUS_VIEW.pending).tone, text: statusWord })],
      [t("entity"), reg.entity_ruc || t("none")],
      [t("reference"), reg.reference || t("none")],
      reg.type ? [t("docType"), reg.type] : null,
      reg.version !== null && reg.version !== undefined ? [t("version"), String(reg.version)] : null,
      [t("registeredAt"), formatTime(reg.registered_at)],
      [t("anchoredAt"), a ? formatTime(a.timestamp) : t("notAnchoredYet")],
      a ? [t("block"), plainNumber(a.block_number)] : null,
      txRow,
      reg.batch_id !== null && reg.batch_id !== undefined
        ? [t("batch"), el("a", { href: "#/batches/" + reg.batch_id, text: t("batchLink", { id: reg.batch_id }) })]
        : null,
      a && a.seq !== null && a.seq !== undefined ? [t("seq"), String(a.seq)] : null,
      a ? [t("network"), String(a.chain_id)] : null,
      a && a.contract ? [t("contract"), hashCode(a.contract)] : null
    ];
    var heading = count > 1 ? t("registration", { n: index + 1 }) : t("registration", { n: "" }).trim();
    var card = el("article", { className: "card", "aria-label": heading }, [
      count > 1 ? el("h3", { text: heading }) : null,
      dl(rows)
    ]);
    var receipt = receiptFor(data, reg, index);
    if (receipt) {
      card.appendChild(el("button", {
        type: "button", className: "btn",
        onclick: function () {
          downloadJson(receipt, t("receiptFileName") + "-" + data.sha256.slice(0, 12) + (count > 1 ? "-" + (index + 1) : "") + ".json");
        }
      }, [t("downloadReceipt")]));
    }
    return card;
  }

  // One table per (entity, reference) the document is registered under.
  function renderVersions(data) {
    var versions = data.versions || [];
    if (!versions.length) return null;
    var groups = [], byKey = {};
    versions.forEach(function (v) {
      var key = (v.entity_ruc || "") + "\u0000" + (v.reference || "");
      if (!byKey[key]) { byKey[key] = { reference: v.reference || "", items: [] }; groups.push(byKey[key]); }
      byKey[key].items.push(v);
    });
    var wrap = el("div", { className: "versions" });
    groups.forEach(function (g, gi) {
      var titleId = "versions-title-" + gi;
      var body = el("tbody");
      g.items.forEach(function (v) {
        body.appendChild(el("tr", { className: v.is_this_document ? "current" : null, "aria-current": v.is_this_document ? "true" : null }, [
          el("td", null, [String(v.version), v.is_this_document ? el("strong", { text: " (" + t("thisDocument") + ")" }) : null]),
          el("td", null, [hashCode(v.sha256)]),
          el("td", { text: t("status_" + v.status) }),
          el("td", { text: formatTime(v.registered_at) })
        ]));
      });
      var table = el("table", { className: "data", "aria-labelledby": titleId }, [
        el("thead", null, [el("tr", null, [
          el("th", { scope: "col", text: t("colVersion") }),
          el("th", { scope: "col", text: t("colDigest") }),
          el("th", { scope: "col", text: t("colStatus") }),
          el("th", { scope: "col", text: t("colRegistered") })
        ])]),
        body
      ]);
      wrap.appendChild(el("section", { "aria-labelledby": titleId }, [
        el("h2", { id: titleId, text: t("versionsTitle", { ref: g.reference }) }),
        scrollTable(table)
      ]));
    });
    return wrap;
  }

  function renderVerify() {
    var out = $("verify-result");
    clear(out);
    out.removeAttribute("aria-busy");
    var s = verifyState;
    if (!s) { announce("verify-status", ""); return; }
    var fileFacts = el("div", null, [
      s.file
        ? el("p", { className: "file-line" }, [t("fileLine", { name: s.file.name, size: formatBytes(s.file.size) })])
        : el("p", { className: "file-line" }, [t("landingLine", { digest: s.digest })])
    ]);
    if (s.stamp) fileFacts.appendChild(el("p", { className: "notice stamped-line", text: t("stampedLine", { n: formatNumber(s.stamp.originalLength) }) }));
    if (!s.file) {
      fileFacts.appendChild(el("p", { className: "notice landing-invite", text: t("landingInvite") }));
    } else if (landingDigest && s.digest) {
      var same = s.digest === landingDigest;
      fileFacts.appendChild(el("p", {
        className: "notice landing-" + (same ? "match notice-good" : "mismatch notice-bad"),
        text: t(same ? "landingMatch" : "landingMismatch")
      }));
    }
    if (s.error && !s.data) {
      announce("verify-status", s.error);
      out.appendChild(fileFacts);
      out.appendChild(errorBox(s.error));
      return;
    }
    var data = s.data;
    var view = STATUS_VIEW[data.status] || STATUS_VIEW.pending;
    var title = t("st" + view.key + "Title");
    var text = t("st" + view.key + "Text");
    if (!s.file) { // the QR landing: the document's record; no file checked yet
      title = t("landingTitle", { status: t("status_" + data.status) });
      text = t("landingVerdict");
    }
    // The live region carries the verdict in words; the details follow below it.
    clear($("verify-status"));
    $("verify-status").appendChild(el("div", { className: "verdict verdict-" + view.tone }, [
      el("p", { className: "verdict-title" }, [el("span", { className: "verdict-icon", "aria-hidden": "true", text: view.tone === "good" ? "✔" : view.tone === "bad" ? "✖" : "◷" }), title]),
      el("p", { className: "verdict-text", text: text })
    ]));
    out.appendChild(fileFacts);
    out.appendChild(el("div", { className: "digest" }, [
      el("span", { className: "digest-label", text: t(s.file ? "digestLabel" : "landingDigestLabel") }),
      hashCode(s.digest, "selectable")
    ]));
    var regs = data.registrations || [];
    regs.forEach(function (reg, i) { out.appendChild(renderRegistration(data, reg, i, regs.length)); });
    var versions = renderVersions(data);
    if (versions) out.appendChild(versions);
  }

  function setupVerify() {
    var input = $("verify-file");
    input.addEventListener("change", function () {
      if (input.files && input.files[0]) verifyFile(input.files[0]);
    });
    var zone = $("dropzone");
    ["dragenter", "dragover"].forEach(function (type) {
      zone.addEventListener(type, function (e) {
        e.preventDefault();
        zone.classList.add("dragging");
      });
    });
    ["dragleave", "dragend"].forEach(function (type) {
      zone.addEventListener(type, function () { zone.classList.remove("dragging"); });
    });
    zone.addEventListener("drop", function (e) {
      e.preventDefault();
      zone.classList.remove("dragging");
      var files = e.dataTransfer && e.dataTransfer.files;
      if (files && files[0]) verifyFile(files[0]);
    });
    // A file dropped beside the zone must not make the browser open it.
    window.addEventListener("dragover", function (e) { e.preventDefault(); });
    window.addEventListener("drop", function (e) { e.preventDefault(); });
  }


  // ---------------------------------------------------------------------------
  // A receipt checked against the user's own node only: steps 1-4 here (this
  // file's SHA-256 and Merkle code), steps 5-7 by JSON-RPC to that node. No
  // request goes to the service's /v1/ API for this check.
  // ---------------------------------------------------------------------------

  // keccak256("getAnchor(bytes32)")[:4], computed once with
  // eth_utils.keccak(text="getAnchor(bytes32)")[:4].hex() and written here.
  var GET_ANCHOR_SELECTOR = "7feb51d9";
  var DEV_CHAIN_ID = 31337;

  function fromHex(hex) {
    if (typeof hex !== "string" || !/^[0-9a-f]*$/.test(hex) || hex.length % 2) throw new Error("not lowercase hex: " + hex);
    var out = new Uint8Array(hex.length / 2);
    for (var i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(i * 2, 2), 16);
    return out;
  }

  function concatBytes(parts) {
    var n = 0, at = 0;
    parts.forEach(function (p) { n += p.length; });
    var out = new Uint8Array(n);
    parts.forEach(function (p) { out.set(p, at); at += p.length; });
    return out;
  }

  // RFC 8785 for metadata (strings, integers, booleans, null, arrays, objects):
  // keys sorted by UTF-16 code units, values as ECMAScript's JSON.stringify writes them.
  function canonicalJson(value) {
    if (Array.isArray(value)) return "[" + value.map(canonicalJson).join(",") + "]";
    if (value !== null && typeof value === "object") {
      return "{" + Object.keys(value).sort().map(function (k) {
        return JSON.stringify(k) + ":" + canonicalJson(value[k]);
      }).join(",") + "}";
    }
    return JSON.stringify(value);
  }

  // RFC 9162 section 2.1.3.2: the root an inclusion proof leads to (throws when malformed).
  function rootFromInclusionProof(leaf, index, size, path) {
    if (!(index >= 0 && index < size)) throw new Error("leaf index " + index + " is not below tree size " + size);
    var fn = index, sn = size - 1, r = leaf;
    for (var i = 0; i < path.length; i++) {
      if (sn === 0) throw new Error("the proof is longer than the tree is deep");
      var p = path[i];
      if (fn % 2 === 1 || fn === sn) {
        r = sha256(concatBytes([new Uint8Array([1]), p, r]));
        if (fn % 2 === 0) {
          while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
        }
      } else {
        r = sha256(concatBytes([new Uint8Array([1]), r, p]));
      }
      fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
    }
    if (sn !== 0) throw new Error("the proof is shorter than the tree is deep");
    return r;
  }

  var rpcId = 0;
  async function rpc(url, method, params) {
    var res;
    try {
      res = await fetch(url, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id: ++rpcId, method: method, params: params })
      });
    } catch (e) {
      throw new Error(t("nodeUnreachable", { node: url }));
    }
    var body = await res.json();
    if (body.error) throw new Error(method + ": " + (body.error.message || JSON.stringify(body.error)));
    return body.result;
  }

  function word(hex, i) { return hex.substr(i * 64, 64); }

  async function checkWithNode(receipt, documentSha256, nodeUrl) {
    var checks = [];
    function add(step, name, ok, detail, skipped) {
      checks.push({ step: step, name: name, ok: ok, skipped: !!skipped, detail: detail });
    }
    var d = receipt.document || {};
    if (!documentSha256) add(1, "document", true, "no document given; only the receipt was checked", true);
    else if (documentSha256 === d.sha256) add(1, "document", true, "the document matches this receipt (SHA-256 " + documentSha256 + ")");
    else add(1, "document", false, "the document does not match this receipt: its SHA-256 is " + documentSha256 + ", the receipt is for " + d.sha256);

    if (d.metadata === undefined) {
      add(2, "metadata", true, "the receipt carries no metadata; its digest is checked as part of the leaf", true);
    } else {
      var md = toHex(sha256(new TextEncoder().encode(canonicalJson(d.metadata))));
      if (md === d.metadata_sha256) add(2, "metadata", true, "the metadata matches its digest");
      else add(2, "metadata", false, "the metadata in this receipt was altered: it hashes to " + md + ", the receipt records " + d.metadata_sha256);
    }

    var proof = receipt.proof, batch = receipt.batch, a = receipt.anchor;
    if (!proof || !batch) {
      add(4, "merkle_proof", false, "this receipt is pending: there is no proof to check yet");
    } else {
      try {
        var leaf = sha256(concatBytes([new Uint8Array([0]), fromHex(d.salt), fromHex(d.sha256), fromHex(d.metadata_sha256)]));
        var root = toHex(rootFromInclusionProof(leaf, proof.leaf_index, proof.tree_size, proof.path.map(fromHex)));
        if (root === batch.root) add(4, "merkle_proof", true, "the document is leaf " + proof.leaf_index + " of " + proof.tree_size + " in the tree with root " + batch.root);
        else add(4, "merkle_proof", false, "the receipt's proof does not lead to batch root " + batch.root + " (it leads to " + root + "): the receipt was altered");
      } catch (e) {
        add(4, "merkle_proof", false, "the inclusion proof is malformed: " + e.message);
      }
    }

    var chainId = parseInt(await rpc(nodeUrl, "eth_chainId", []), 16);
    var required = chainId === DEV_CHAIN_ID ? 1 : 12;
    var confirmations = 0;
    if (!a || !batch || !proof) {
      add(5, "chain_record", false, "this receipt is " + receipt.status + ": its batch root is not anchored yet");
    } else if (chainId !== a.chain_id) {
      add(5, "chain_record", false, "this receipt belongs to chain " + a.chain_id + "; the node is on chain " + chainId);
    } else {
      var where = "on chain " + a.chain_id + " at " + a.contract;
      var out = String(await rpc(nodeUrl, "eth_call", [{ to: a.contract, data: "0x" + GET_ANCHOR_SELECTOR + batch.root }, "latest"])).replace(/^0x/, "");
      if (out.length < 5 * 64) {
        add(5, "chain_record", false, "no anchor record could be read " + where);
      } else {
        var rec = {
          seq: Number(BigInt("0x" + word(out, 0))),
          tree_size: Number(BigInt("0x" + word(out, 1))),
          timestamp: Number(BigInt("0x" + word(out, 2))),
          block_number: Number(BigInt("0x" + word(out, 3))),
          anchorer: "0x" + word(out, 4).substr(24)
        };
        if (/^0x0{40}$/.test(rec.anchorer)) {
          add(5, "chain_record", false, "this root is not anchored " + where + " (root " + batch.root + ")");
        } else {
          var diffs = [["the tree size", rec.tree_size, proof.tree_size], ["the block number", rec.block_number, a.block_number], ["the timestamp", rec.timestamp, a.timestamp], ["the sequence number", rec.seq, a.seq]]
            .filter(function (x) { return x[1] !== x[2]; })
            .map(function (x) { return x[0] + " is " + x[1] + " on chain but " + x[2] + " in the receipt"; });
          if (diffs.length) add(5, "chain_record", false, "the anchor " + where + " does not match this receipt: " + diffs.join("; "));
          else add(5, "chain_record", true, "the root is anchored " + where + " as number " + rec.seq + ", in block " + rec.block_number + ", by " + rec.anchorer);
        }
      }
    }
    if (!a || chainId !== a.chain_id) {
      var why = !a ? "the receipt has no anchor yet" : "the node is on chain " + chainId + ", not " + a.chain_id;
      add(6, "block_hash", true, "not checked: " + why, true);
      add(7, "confirmations", true, "not checked: " + why, true);
    } else {
      var block = await rpc(nodeUrl, "eth_getBlockByNumber", ["0x" + a.block_number.toString(16), false]);
      var hash = block && block.hash ? block.hash.toLowerCase() : null;
      if (!hash) add(6, "block_hash", false, "chain " + a.chain_id + " has no block " + a.block_number + ": the chain was reset or the node is behind");
      else if (hash !== a.block_hash.toLowerCase()) add(6, "block_hash", false, "block " + a.block_number + " on chain " + a.chain_id + " is " + hash + ", not " + a.block_hash + " as in the receipt");
      else add(6, "block_hash", true, "block " + a.block_number + " has hash " + a.block_hash.toLowerCase());
      var head = parseInt(await rpc(nodeUrl, "eth_blockNumber", []), 16);
      confirmations = Math.max(0, head - a.block_number + 1);
      if (confirmations < required) add(7, "confirmations", false, "the anchor has " + confirmations + " of the " + required + " confirmations required; it is not confirmed yet");
      else add(7, "confirmations", true, "the anchor has " + confirmations + " confirmations (" + required + " required)");
    }
    return {
      valid: checks.every(function (c) { return c.ok; }),
      status: receipt.status,
      confirmations: confirmations,
      required_confirmations: required,
      checks: checks,
      node: { url: nodeUrl, chainId: chainId }
    };
  }

  // ---------------------------------------------------------------------------
  // Receipt check.
  // ---------------------------------------------------------------------------

  var receiptState = null;

  function readText(file) {
    return file.text ? file.text() : new Response(file).text();
  }

  // Strict JSON, as the service parses receipts (receipt-v1 section 5): JSON.parse
  // keeps the last of two members with one name and accepts floats, so the page
  // reads the text itself. Objects have no prototype ("__proto__" is a name).
  var MAX_DEPTH = 64;

  function StrictJsonError(code, vars) {
    this.code = code;
    this.vars = vars || {};
    this.message = code;
  }

  function parseStrictJson(text) {
    var pos = 0;
    var depth = 0;
    function fail(code, vars) { throw new StrictJsonError(code, vars); }
    function space() {
      while (pos < text.length) {
        var c = text.charCodeAt(pos);
        if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) pos++; else break;
      }
    }
    // Sticky expressions read at pos without copying the rest of the text.
    var STRING = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y;
    var WORD = /(true|false|null)(?![A-Za-z0-9_])/y;
    var CONSTANT = /-?(NaN|Infinity)/y;
    var NUMBER = /-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/y;
    function at(re) { re.lastIndex = pos; return re.exec(text); }
    function stringToken() {
      var m = at(STRING);
      if (!m) fail("syntax", { pos: pos });
      pos += m[0].length;
      return JSON.parse(m[0]);
    }
    function value() {
      space();
      var c = text.charAt(pos);
      if (c === "{" || c === "[") {
        depth++;
        if (depth > MAX_DEPTH) fail("depth", { max: MAX_DEPTH });
        pos++;
        var out = c === "{" ? Object.create(null) : [];
        space();
        var close = c === "{" ? "}" : "]";
        if (text.charAt(pos) === close) { pos++; depth--; return out; }
        for (;;) {
          if (c === "{") {
            space();
            if (text.charAt(pos) !== "\"") fail("syntax", { pos: pos });
            var key = stringToken();
            if (key in out) fail("duplicate", { key: key });
            space();
            if (text.charAt(pos) !== ":") fail("syntax", { pos: pos });
            pos++;
            out[key] = value();
          } else {
            out.push(value());
          }
          space();
          var next = text.charAt(pos);
          pos++;
          if (next === close) { depth--; return out; }
          if (next !== ",") fail("syntax", { pos: pos - 1 });
        }
      }
      if (c === "\"") return stringToken();
      var word = at(WORD);
      if (word) { pos += word[0].length; return word[0] === "null" ? null : word[0] === "true"; }
      var constant = at(CONSTANT);
      if (constant) fail("constant", { text: constant[0] });
      var num = at(NUMBER);
      if (!num) fail("syntax", { pos: pos });
      if (num[2] || num[3]) fail("float", { text: num[0].slice(0, 40) });
      pos += num[0].length;
      return Number(num[0]);
    }
    var result = value();
    space();
    if (pos !== text.length) fail("syntax", { pos: pos });
    return result;
  }

  function strictMessage(e) {
    var key = { duplicate: "strictDuplicate", "float": "strictFloat", constant: "strictConstant", depth: "strictDepth" }[e.code] || "strictSyntax";
    return t(key, e.vars);
  }

  function isObject(v) { return v !== null && typeof v === "object" && !Array.isArray(v); }

  // RFC 8785 of what the strict parser returns (strings, safe integers, booleans,
  // null, arrays, objects): keys sorted by UTF-16 code units, as Array.sort does.
  function canonicalJson(v) {
    if (v === null || typeof v === "boolean" || typeof v === "string") return JSON.stringify(v);
    if (typeof v === "number") {
      if (!Number.isSafeInteger(v)) throw new Error("unsafe integer");
      return String(v);
    }
    if (Array.isArray(v)) return "[" + v.map(canonicalJson).join(",") + "]";
    return "{" + Object.keys(v).sort().map(function (k) {
      return JSON.stringify(k) + ":" + canonicalJson(v[k]);
    }).join(",") + "}";
  }

  function fromBase64(text) {
    var raw = atob(text);
    var out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return out;
  }

  // The service signature, checked here against the keys the service publishes:
  // "none", "ok", "bad", "unknownKey" or "unchecked" (no Ed25519 in this browser).
  async function checkSignature(receipt, keys) {
    if (!("signature" in receipt)) return { outcome: "none" };
    var sig = receipt.signature;
    if (!isObject(sig) || sig.alg !== "Ed25519" || typeof sig.key_id !== "string" || typeof sig.value !== "string") {
      return { outcome: "bad" };
    }
    var key = (keys || []).filter(function (k) { return k.key_id === sig.key_id; })[0];
    if (!key) return { outcome: "unknownKey" };
    var unsigned = Object.create(null);
    Object.keys(receipt).forEach(function (k) { if (k !== "signature") unsigned[k] = receipt[k]; });
    var message, signature, publicKey;
    try {
      message = new TextEncoder().encode(canonicalJson(unsigned));
      signature = fromBase64(sig.value);
      publicKey = fromBase64(key.public_key);
    } catch (e) {
      return { outcome: "bad" };
    }
    var imported;
    try {
      imported = await crypto.subtle.importKey("raw", publicKey, { name: "Ed25519" }, false, ["verify"]);
    } catch (e) {
      return { outcome: "unchecked" };
    }
    try {
      var ok = await crypto.subtle.verify({ name: "Ed25519" }, imported, signature, message);
      return { outcome: ok ? "ok" : "bad", keyId: sig.key_id };
    } catch (e) {
      return { outcome: "bad" };
    }
  }

  // What the service publishes it trusts (GET /v1/deployments), read once when the
  // page loads and kept; read again only after a failure.
  var trustRequest = null;
  function publishedTrust() {
    if (!trustRequest) {
      trustRequest = api("GET", "/v1/deployments").catch(function (e) {
        trustRequest = null;
        throw e;
      });
    }
    return trustRequest;
  }

  function trustedDeployment(anchor, deployments) {
    var contract = String(anchor.contract).toLowerCase();
    return (deployments || []).some(function (d) {
      return d.chain_id === anchor.chain_id && String(d.address).toLowerCase() === contract;
    });
  }

  async function checkReceipt(ev) {
    ev.preventDefault();
    var receiptInput = $("receipt-file"), docInput = $("receipt-doc");
    receiptState = null;
    clear($("receipt-result"));
    var file = receiptInput.files && receiptInput.files[0];
    if (!file) {
      receiptState = { error: t("receiptMissing") };
      renderReceipt();
      receiptInput.focus();
      return;
    }
    var text, receipt, stamp = null, documentSha256 = null;
    try {
      stamp = await readStamp(file);
    } catch (e) {
      stamp = null;
    }
    if (stamp && stamp.changed) {
      receiptState = { error: t("stampChanged") };
      renderReceipt();
      return;
    }
    try {
      text = stamp ? new TextDecoder().decode(stamp.receipt) : await readText(file);
    } catch (e) {
      receiptState = { error: t("errorReadFile", { msg: e.message }) };
      renderReceipt();
      return;
    }
    try {
      receipt = parseStrictJson(text);
    } catch (e) {
      if (!(e instanceof StrictJsonError)) throw e;
      receiptState = { error: t("receiptMalformed", { msg: strictMessage(e) }) };
      renderReceipt();
      return;
    }
    announce("receipt-status", t("receiptChecking"));
    $("receipt-result").setAttribute("aria-busy", "true");
    var trust;
    try {
      // Read once when the page loads, so that a check with the user's own
      // node sends nothing to the service.
      trust = await publishedTrust();
    } catch (e) {
      receiptState = { error: e.message };
      renderReceipt();
      return;
    }
    if (isObject(receipt) && isObject(receipt.anchor) && !trustedDeployment(receipt.anchor, trust.deployments)) {
      // Step 5 fails whatever the chain says; nothing is sent for it.
      receiptState = { untrusted: { contract: String(receipt.anchor.contract), chain: String(receipt.anchor.chain_id) } };
      renderReceipt();
      return;
    }
    var signature = isObject(receipt) ? await checkSignature(receipt, trust.signing_keys) : { outcome: "none" };
    var doc = stamp ? file.slice(0, stamp.originalLength) : docInput.files && docInput.files[0];
    if (doc) {
      try {
        documentSha256 = await hashFile(doc);
      } catch (e) {
        receiptState = { error: t("errorReadFile", { msg: e.message }) };
        renderReceipt();
        return;
      }
    }
    var node = $("receipt-rpc").value.trim();
    if (node) {
      if (!/^https?:\/\/\S+$/.test(node)) {
        receiptState = { error: t("nodeBadUrl") };
        renderReceipt();
        return;
      }
      try {
        receiptState = { data: await checkWithNode(receipt, documentSha256, node), stamp: stamp, signature: signature };
      } catch (e) {
        receiptState = { error: t("nodeFailed", { node: node, msg: e.message }) };
      }
      renderReceipt();
      return;
    }
    var extra = documentSha256 ? ", \"sha256\": \"" + documentSha256 + "\"" : "";
    try {
      // The receipt's own text, untouched: the service parses it as strictly as the
      // page did, and its signature covers exactly what the file holds.
      var body = "{\"receipt\": " + text + extra + "}";
      receiptState = { data: await api("POST", "/v1/receipts/verify", undefined, body), signature: signature, stamp: stamp };
    } catch (e) {
      receiptState = { error: e.message };
    }
    renderReceipt();
  }

  function renderReceipt() {
    var out = $("receipt-result");
    clear(out);
    out.removeAttribute("aria-busy");
    var s = receiptState;
    if (!s) { announce("receipt-status", ""); return; }
    if (s.error) {
      announce("receipt-status", s.error);
      out.appendChild(errorBox(s.error));
      return;
    }
    if (s.untrusted) {
      clear($("receipt-status"));
      $("receipt-status").appendChild(el("div", { className: "verdict verdict-bad" }, [
        el("p", { className: "verdict-title" }, [el("span", { className: "verdict-icon", "aria-hidden": "true", text: "✖" }), t("receiptInvalid")]),
        el("p", { className: "verdict-text", text: t("receiptUntrusted", s.untrusted) }),
        el("p", { className: "verdict-text", text: t("receiptUntrustedHint") })
      ]));
      return;
    }
    var d = s.data;
    var sigOutcome = s.signature ? s.signature.outcome : "none";
    var sigBad = sigOutcome === "bad" || sigOutcome === "unknownKey";
    var valid = d.valid && !sigBad;
    var tone = valid ? "good" : "bad";
    var sigText = t({ ok: "sigOk", bad: "sigBad", unknownKey: "sigUnknownKey", unchecked: "sigUnchecked", none: "sigNone" }[sigOutcome], { key: shortHash((s.signature && s.signature.keyId) || "") });
    clear($("receipt-status"));
    $("receipt-status").appendChild(el("div", { className: "verdict verdict-" + tone }, [
      el("p", { className: "verdict-title" }, [el("span", { className: "verdict-icon", "aria-hidden": "true", text: valid ? "✔" : "✖" }), t(valid ? "receiptValid" : "receiptInvalid")]),
      el("p", { className: "verdict-text", text: t("receiptConfirmations", { n: formatNumber(d.confirmations), req: formatNumber(d.required_confirmations) }) }),
      el("p", { className: "verdict-text signature-" + sigOutcome, text: sigText })
    ]));
    if (s.stamp) out.appendChild(el("p", { className: "notice stamped-line", text: t("stampedLine", { n: formatNumber(s.stamp.originalLength) }) }));
    out.appendChild(el("p", { className: "notice node-line", text: d.node ? t("nodeAnswered", { node: d.node.url, chain: String(d.node.chainId) }) : t("serviceAnswered") }));
    var body = el("tbody");
    (d.checks || []).forEach(function (c) {
      var outcome = c.skipped ? "skipped" : c.ok ? "ok" : "fail";
      var word = t(outcome === "ok" ? "outcomeOk" : outcome === "fail" ? "outcomeFail" : "outcomeSkipped");
      var label = TEXT[lang]["check_" + c.name] || c.name;
      body.appendChild(el("tr", { className: "check-" + outcome }, [
        el("td", { text: String(c.step) }),
        el("th", { scope: "row", text: label }),
        el("td", null, [el("span", { className: "pill pill-" + (outcome === "ok" ? "good" : outcome === "fail" ? "bad" : "muted"), text: word })]),
        el("td", { lang: "en", className: "detail", text: c.detail || "" })
      ]));
    });
    out.appendChild(scrollTable(el("table", { className: "data checks" }, [
      el("caption", { text: t("checksCaption") }),
      el("thead", null, [el("tr", null, [
        el("th", { scope: "col", text: t("colStep") }),
        el("th", { scope: "col", text: t("colCheck") }),
        el("th", { scope: "col", text: t("colOutcome") }),
        el("th", { scope: "col", text: t("colDetail") })
      ])]),
      body
    ])));
  }

  // ---------------------------------------------------------------------------
  // Auditor view: batches, one batch, its leaves, the root recomputed here.
  // ---------------------------------------------------------------------------

  var batchesState = { offset: 0, data: null, error: null };
  var batchState = { id: null, batch: null, error: null, leaves: null, leafOffset: 0, leafError: null, recompute: null };

  // Paging re-renders the table and its buttons; the pressed button gets the
  // focus back so that keyboard users keep their place.
  var pendingFocus = null;

  function pager(key, info, onPrev, onNext, prevLabel, nextLabel) {
    if (!info.hasPrev && !info.hasNext) return null;
    function press(which, action) {
      return function () { pendingFocus = key + "-" + which; action(); };
    }
    var prevBtn = el("button", { type: "button", className: "btn", "data-pager": key + "-prev", disabled: info.hasPrev ? null : true, "aria-label": prevLabel, onclick: press("prev", onPrev) }, ["← " + t("prev")]);
    var nextBtn = el("button", { type: "button", className: "btn", "data-pager": key + "-next", disabled: info.hasNext ? null : true, "aria-label": nextLabel, onclick: press("next", onNext) }, [t("next") + " →"]);
    return el("div", { className: "pager" }, [prevBtn, el("span", { className: "pager-info", text: info.text }), nextBtn]);
  }

  function restorePagerFocus(container) {
    if (!pendingFocus) return;
    var wanted = container.querySelector('[data-pager="' + pendingFocus + '"]');
    pendingFocus = null;
    if (wanted && wanted.disabled) wanted = container.querySelector("[data-pager]:not([disabled])");
    if (wanted) wanted.focus();
  }

  // The list carries no confirmation counts; one batch's detail gives the
  // node's head, from which every listed batch's count follows.
  async function headFor(list) {
    var anchored = list.filter(function (b) { return b.block_number !== null && b.block_number !== undefined; });
    if (!anchored.length) return null;
    try {
      var detail = await api("GET", "/v1/batches/" + anchored[0].id);
      if (detail.confirmations === null || detail.confirmations === undefined) return null;
      return detail.block_number + detail.confirmations - 1;
    } catch (e) {
      return null; // the counts are shown as unknown
    }
  }

  async function loadBatches(offset) {
    batchesState.offset = offset;
    announce("batches-status", t("batchesLoading"));
    try {
      var data = await api("GET", "/v1/batches?offset=" + offset + "&limit=" + config.batchesShown);
      var head = await headFor(data.batches || []);
      (data.batches || []).forEach(function (b) {
        if (b.confirmations === undefined) {
          b.confirmations = head !== null && b.block_number !== null && b.block_number !== undefined &&
            (b.status === "anchored" || b.status === "confirmed")
            ? Math.max(0, head - b.block_number + 1) : null;
        }
      });
      batchesState.data = data;
      batchesState.error = null;
    } catch (e) {
      batchesState.data = null;
      batchesState.error = e.message;
    }
    renderBatches();
  }

  function renderBatches() {
    var out = $("batches-result");
    clear(out);
    var s = batchesState;
    if (s.error) { announce("batches-status", s.error); out.appendChild(errorBox(s.error)); return; }
    if (!s.data) return;
    var d = s.data, list = d.batches || [];
    if (!list.length) { announce("batches-status", t("batchesNone")); return; }
    var from = d.offset + 1, to = d.offset + list.length;
    var caption = t("batchesCaption", { from: formatNumber(from), to: formatNumber(to), total: formatNumber(d.total) });
    announce("batches-status", caption);
    var body = el("tbody");
    list.forEach(function (b) {
      body.appendChild(el("tr", null, [
        el("th", { scope: "row" }, [el("a", { href: "#/batches/" + b.id, text: t("batchLink", { id: b.id }) })]),
        el("td", { className: "num", text: formatNumber(b.size) }),
        el("td", null, [el("code", { className: "hash", title: b.root || "", text: shortHash(b.root) })]),
        el("td", { className: "num", text: b.seq === null || b.seq === undefined ? t("none") : String(b.seq) }),
        el("td", null, [el("code", { className: "hash", title: b.tx_hash || "", text: shortHash(b.tx_hash) })]),
        el("td", { className: "num", text: plainNumber(b.block_number) }),
        el("td", { className: "num", text: formatNumber(b.confirmations) }),
        el("td", { text: t("status_" + b.status) })
      ]));
    });
    out.appendChild(scrollTable(el("table", { className: "data" }, [
      el("caption", { className: "visually-hidden", text: caption }),
      el("thead", null, [el("tr", null, [
        el("th", { scope: "col", text: t("colBatch") }),
        el("th", { scope: "col", text: t("colSize") }),
        el("th", { scope: "col", text: t("colRoot") }),
        el("th", { scope: "col", text: t("colSeq") }),
        el("th", { scope: "col", text: t("colTx") }),
        el("th", { scope: "col", text: t("colBlock") }),
        el("th", { scope: "col", text: t("colConfirmations") }),
        el("th", { scope: "col", text: t("colStatus") })
      ])]),
      body
    ])));
    var pageSize = config.batchesShown;
    appendIf(out, pager("batches", {
      hasPrev: d.offset > 0,
      hasNext: to < d.total,
      text: t("pageOf", { page: Math.floor(d.offset / pageSize) + 1, pages: Math.max(1, Math.ceil(d.total / pageSize)) })
    }, function () { loadBatches(Math.max(0, d.offset - pageSize)); },
    function () { loadBatches(d.offset + pageSize); }, t("prevBatches"), t("nextBatches")));
    restorePagerFocus(out);
  }

  async function loadBatch(id) {
    batchState = { id: id, batch: null, error: null, leaves: null, leafOffset: 0, leafError: null, recompute: null };
    $("batch-title").textContent = t("batchTitle", { id: id });
    clear($("batch-info"));
    clear($("leaves-result"));
    $("recompute-card").hidden = true;
    $("leaves-section").hidden = true;
    announce("recompute-result", "");
    hideProgress("recompute");
    announce("batch-status", t("batchLoading"));
    try {
      var b = await api("GET", "/v1/batches/" + encodeURIComponent(id));
      if (batchState.id !== id) return;
      batchState.batch = b;
    } catch (e) {
      if (batchState.id !== id) return;
      batchState.error = e.message;
    }
    renderBatch();
    if (batchState.batch) loadLeaves(0);
  }

  function renderBatch() {
    var s = batchState;
    $("batch-title").textContent = t("batchTitle", { id: s.id });
    var info = $("batch-info");
    clear(info);
    if (s.error) { announce("batch-status", s.error); info.appendChild(errorBox(s.error)); return; }
    if (!s.batch) return;
    announce("batch-status", "");
    var b = s.batch;
    info.appendChild(el("div", { className: "card" }, [dl([
      [t("status"), t("status_" + b.status)],
      [t("size"), formatNumber(b.size)],
      [t("root"), hashCode(b.root || t("none"), "selectable")],
      [t("seq"), b.seq === null || b.seq === undefined ? t("none") : String(b.seq)],
      [t("transaction"), b.tx_hash ? el("span", { className: "hash-row" }, [hashCode(b.tx_hash, "selectable"), copyButton(b.tx_hash, t("copyTx"))]) : t("notAnchoredYet")],
      [t("block"), plainNumber(b.block_number)],
      b.block_hash ? [t("blockHash"), hashCode(b.block_hash)] : null,
      [t("anchoredAt"), b.timestamp ? formatTime(b.timestamp) : t("notAnchoredYet")],
      [t("confirmations"), formatNumber(b.confirmations)],
      b.chain_id ? [t("network"), String(b.chain_id)] : null,
      b.contract ? [t("contract"), hashCode(b.contract)] : null,
      b.sealed_at ? [t("sealedAt"), formatTime(b.sealed_at)] : null
    ])]));
    $("recompute-card").hidden = false;
    $("leaves-section").hidden = false;
    renderRecompute();
    renderLeaves();
  }

  async function loadLeaves(offset) {
    var id = batchState.id;
    batchState.leafOffset = offset;
    try {
      var d = await api("GET", "/v1/batches/" + encodeURIComponent(id) + "/leaves?offset=" + offset + "&limit=" + config.leavesShown);
      if (batchState.id !== id) return;
      batchState.leaves = d;
      batchState.leafError = null;
    } catch (e) {
      if (batchState.id !== id) return;
      batchState.leaves = null;
      batchState.leafError = e.message;
    }
    renderLeaves();
  }

  function renderLeaves() {
    var out = $("leaves-result");
    clear(out);
    var s = batchState;
    if (s.leafError) { out.appendChild(errorBox(s.leafError)); return; }
    if (!s.leaves) return;
    var d = s.leaves, leaves = d.leaves || [];
    var from = d.offset + 1, to = d.offset + leaves.length;
    var caption = t("leavesCaption", { from: formatNumber(from), to: formatNumber(to), total: formatNumber(d.tree_size - (d.first_index || 0)) });
    var body = el("tbody");
    leaves.forEach(function (leaf, i) {
      body.appendChild(el("tr", null, [
        el("td", { className: "num", text: String(d.offset + i) }),
        el("td", null, [hashCode(leaf)])
      ]));
    });
    out.appendChild(scrollTable(el("table", { className: "data leaves" }, [
      el("caption", { text: caption }),
      el("thead", null, [el("tr", null, [
        el("th", { scope: "col", text: t("colIndex") }),
        el("th", { scope: "col", text: t("colLeaf") })
      ])]),
      body
    ])));
    var size = config.leavesShown;
    appendIf(out, pager("leaves", {
      hasPrev: d.offset > 0,
      hasNext: to < d.tree_size - (d.first_index || 0),
      text: t("pageOf", { page: Math.floor(d.offset / size) + 1, pages: Math.max(1, Math.ceil((d.tree_size - (d.first_index || 0)) / size)) })
    }, function () { loadLeaves(Math.max(0, d.offset - size)); },
    function () { loadLeaves(d.offset + size); }, t("prevLeaves"), t("nextLeaves")));
    restorePagerFocus(out);
  }

  // Fetches every leaf (paging through the API) and folds them into the root.
  async function recomputeRoot() {
    var id = batchState.id, b = batchState.batch;
    if (!b) return;
    var btn = $("recompute-btn");
    btn.disabled = true;
    batchState.recompute = null;
    announce("recompute-result", "");
    try {
      var total = null, packed = null, got = 0, first = 0, compact = [];
      while (total === null || got < total) {
        var d = await api("GET", "/v1/batches/" + encodeURIComponent(id) + "/leaves?offset=" + got + "&limit=" + config.leafPageSize);
        if (batchState.id !== id) return;
        if (total === null) {
          // A batch of the log adds the leaves [first_index, tree_size); the
          // compact range at first_index stands for every leaf before them.
          first = d.first_index === undefined ? 0 : d.first_index;
          compact = d.compact_range === undefined ? [] : d.compact_range;
          total = d.tree_size - first;
          if (!Number.isInteger(total) || total < 0) throw new Error("tree_size " + d.tree_size);
          if (b.size !== undefined && b.size !== null && total !== b.size) throw new Error("tree_size " + d.tree_size + " ≠ " + first + " + " + b.size);
          packed = new Uint8Array(total * 32);
        }
        var leaves = d.leaves || [];
        if (d.offset !== got) throw new Error("offset " + d.offset + " ≠ " + got);
        if (!leaves.length && got < total) throw new Error(got + " / " + total);
        if (got + leaves.length > total) throw new Error((got + leaves.length) + " > " + total);
        for (var i = 0; i < leaves.length; i++) {
          if (!HEX64.test(leaves[i])) throw new Error("leaf " + (got + i));
          hexInto(leaves[i], packed, (got + i) * 32);
        }
        got += leaves.length;
        showProgress("recompute", got, total, t("recomputeFetching", { done: formatNumber(got), total: formatNumber(total) }));
      }
      showProgress("recompute", total, total, t("recomputeHashing", { total: formatNumber(total) }));
      // Let the progress text paint before the synchronous hashing.
      await new Promise(function (resolve) { setTimeout(resolve, 0); });
      var root = toHex(first === 0 && compact.length === 0 ? merkleRoot(packed, total) : rangeRoot(compact, first, packed, total));
      batchState.recompute = { computed: root, recorded: b.root, match: root === b.root };
    } catch (e) {
      batchState.recompute = { error: e instanceof ApiError ? e.message : t("recomputeBadLeaves", { msg: e.message }) };
    } finally {
      btn.disabled = false;
      hideProgress("recompute");
    }
    renderRecompute();
  }

  function renderRecompute() {
    var region = $("recompute-result");
    clear(region);
    var r = batchState.recompute;
    if (!r) return;
    if (r.error) { region.appendChild(errorBox(r.error)); return; }
    var tone = r.match ? "good" : "bad";
    region.appendChild(el("div", { className: "verdict verdict-" + tone }, [
      el("p", { className: "verdict-title" }, [el("span", { className: "verdict-icon", "aria-hidden": "true", text: r.match ? "✔" : "✖" }), t(r.match ? "recomputeMatch" : "recomputeMismatch")]),
      dl([[t("recomputeComputed"), hashCode(r.computed, "selectable")], [t("recomputeRecorded"), hashCode(r.recorded || t("none"), "selectable")]])
    ]));
  }

  // ---------------------------------------------------------------------------
  // Routing (hash routes, so the static server needs no rewrites).
  // ---------------------------------------------------------------------------

  var VIEWS = ["verify", "receipt", "batches", "batch", "audit"];
  var currentRoute = null;

  function parseRoute() {
    var h = window.location.hash.replace(/^#/, "");
    if (h === "" || h === "/") return { view: "verify" };
    if (h === "/receipt") return { view: "receipt" };
    if (h === "/batches") return { view: "batches" };
    if (h === "/audit") return { view: "audit" };
    var m = /^\/batches\/(\d+)$/.exec(h);
    if (m) return { view: "batch", id: parseInt(m[1], 10) };
    return { view: "verify" };
  }

  function route(initial) {
    var r = parseRoute();
    currentRoute = r;
    VIEWS.forEach(function (v) { $("view-" + v).hidden = v !== r.view; });
    document.querySelectorAll("[data-route]").forEach(function (a) {
      var active = a.getAttribute("data-route") === r.view || (r.view === "batch" && a.getAttribute("data-route") === "batches");
      if (active) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
    });
    if (r.view === "batches") loadBatches(batchesState.offset);
    if (r.view === "batch") loadBatch(r.id);
    if (r.view === "audit") auditView().then(function (view) { view.show(); });
    // Moving focus to the new view's heading tells screen readers the view changed.
    if (!initial) {
      var heading = $((r.view === "batch" ? "batch" : r.view) + "-title");
      if (heading) heading.focus();
    }
  }

  function rerender() {
    if (!currentRoute) return;
    renderVerify();
    renderReceipt();
    if (currentRoute.view === "batches") renderBatches();
    if (currentRoute.view === "batch") renderBatch();
    if (auditViewLoaded) auditViewLoaded.render();
  }

  // The period auditor's view is an ES module (js/views/audit.js), loaded when first opened.
  var auditViewLoading = null;
  var auditViewLoaded = null;
  function auditView() {
    if (!auditViewLoading) {
      auditViewLoading = Promise.all([import("./js/views/audit.js"), import("./js/i18n/audit.js")]).then(function (mods) {
        var texts = mods[1].AUDIT_TEXT;
        auditViewLoaded = mods[0].createAuditView({
          root: $("view-audit"),
          t: function (key, vars) {
            var text = (texts[lang] || {})[key];
            if (text === undefined) text = texts.es[key];
            if (text === undefined) return t(key, vars);
            return text.replace(/\{(\w+)\}/g, function (m, name) {
              return vars && Object.prototype.hasOwnProperty.call(vars, name) ? String(vars[name]) : m;
            });
          },
          formatNumber: formatNumber,
          rpcFromUrl: function () { return new URLSearchParams(window.location.search).get("rpc"); }
        });
        return auditViewLoaded;
      });
    }
    return auditViewLoading;
  }

  function init() {
    setupVerify();
    $("receipt-form").addEventListener("submit", checkReceipt);
    // ?rpc=URL (or the field) names the user's own node for the receipt check.
    var rpcParam = new URLSearchParams(window.location.search).get("rpc");
    if (rpcParam) $("receipt-rpc").value = rpcParam;
    $("recompute-btn").addEventListener("click", recomputeRoot);
    $("lang-toggle").addEventListener("click", function () { setLang(lang === "es" ? "en" : "es", true); });
    window.addEventListener("hashchange", function () { route(false); });
    currentRoute = parseRoute();
    publishedTrust().catch(function () { /* reported when a receipt is checked */ });
    setLang(storedLang() || "es", false);
    route(true);
    // The QR code of a stamped PDF opens /?sha256=<hex>: that document's status and versions.
    var named = new URLSearchParams(window.location.search).get("sha256");
    if (named && /^[0-9a-f]{64}$/.test(named.toLowerCase()) && currentRoute.view === "verify") {
      openLanding(named.toLowerCase());
    }
  }

  // Exposed for checking the in-browser hashing against other implementations.
  window.DocAnchor = {
    Sha256: Sha256,
    sha256: sha256,
    sha256Chunked: sha256Chunked,
    hashFile: hashFile,
    merkleRoot: merkleRoot,
    readStamp: readStamp,
    canonicalJson: canonicalJson,
    rootFromInclusionProof: rootFromInclusionProof,
    rangeRoot: rangeRoot,
    toHex: toHex,
    config: config
  };

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
