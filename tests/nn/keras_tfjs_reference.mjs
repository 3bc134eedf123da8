#!/usr/bin/env node
// The independent answer for the Keras importer tests: TF.js itself (npm @tensorflow/tfjs 4.22 with the wasm
// backend, falling back to tfjs' own cpu backend if wasm cannot start) loads a TF.js layers model with
// tf.loadLayersModel(tf.io.fromMemory(...)) and computes the named layers for the inputs.
//
// Usage: node keras_tfjs_reference.mjs MODEL_DIR INPUTS.npy OUT_DIR LAYER[:avg] ...
//   MODEL_DIR holds model.json + shards; INPUTS.npy is NHWC float32; each layer is written to
//   OUT_DIR/<layer>.npy (or <layer>_avg.npy: global average over H and W, Keras' pooling='avg');
//   the special layer "output" is the model's output. Prints the backend used on stderr.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '..', '..', 'peers', 'package.json'));
const tf = require('@tensorflow/tfjs');

// .npy (format 1.0/2.0) of little-endian float32 in C order: the only kind these tests exchange.
function readNpy(file) {
  const buf = fs.readFileSync(file);
  if (buf.toString('latin1', 0, 6) !== '\x93NUMPY') throw new Error(`${file}: not a .npy file`);
  const major = buf[6];
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = buf.toString('latin1', start, start + headerLen);
  if (!header.includes("'descr': '<f4'") || header.includes("'fortran_order': True")) {
    throw new Error(`${file}: expected little-endian float32 in C order, header ${header}`);
  }
  const shape = header.match(/'shape': \(([^)]*)\)/)[1].split(',').filter((s) => s.trim()).map(Number);
  const data = new Float32Array(buf.buffer.slice(buf.byteOffset + start + headerLen, buf.byteOffset + buf.length));
  return { shape, data };
}

function writeNpy(file, shape, data) {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const head = Buffer.alloc(10);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = 1;
  head[7] = 0;
  head.writeUInt16LE(header.length, 8);
  fs.writeFileSync(file, Buffer.concat([head, Buffer.from(header, 'latin1'), Buffer.from(data.buffer, data.byteOffset, data.byteLength)]));
}

async function pickBackend() {
  try {
    require('@tensorflow/tfjs-backend-wasm');
    if (await tf.setBackend('wasm')) { await tf.ready(); return 'wasm'; }
  } catch (e) {
    console.error(`tfjs-reference: wasm backend unavailable (${e.message}); using cpu`);
  }
  await tf.setBackend('cpu');
  await tf.ready();
  return 'cpu';
}

async function main() {
  const [modelDir, inputsFile, outDir, ...layers] = process.argv.slice(2);
  if (!layers.length) throw new Error('usage: keras_tfjs_reference.mjs MODEL_DIR INPUTS.npy OUT_DIR LAYER[:avg] ...');
  const backend = await pickBackend();
  const modelJson = JSON.parse(fs.readFileSync(path.join(modelDir, 'model.json'), 'utf8'));
  const specs = [];
  const parts = [];
  for (const group of modelJson.weightsManifest) {
    specs.push(...group.weights);
    for (const p of group.paths) parts.push(fs.readFileSync(path.join(modelDir, p)));
  }
  const all = Buffer.concat(parts);
  const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.length);
  const model = await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: modelJson.modelTopology, weightSpecs: specs, weightData }));
  const heads = layers.map((l) => {
    const [name, pool] = l.split(':');
    return { name, pool, out: name === 'output' ? model.outputs[0] : model.getLayer(name).output };
  });
  const probe = tf.model({ inputs: model.inputs, outputs: heads.map((h) => h.out) });
  const x = readNpy(inputsFile);
  fs.mkdirSync(outDir, { recursive: true });
  const results = heads.map(() => []);
  const batch = 4;
  for (let i = 0; i < x.shape[0]; i += batch) {
    const n = Math.min(batch, x.shape[0] - i);
    const per = x.shape.slice(1).reduce((a, b) => a * b, 1);
    const input = tf.tensor(x.data.subarray(i * per, (i + n) * per), [n, ...x.shape.slice(1)]);
    let outs = probe.predict(input);
    if (!Array.isArray(outs)) outs = [outs];
    outs.forEach((t, k) => {
      const y = heads[k].pool === 'avg' ? tf.mean(t, [1, 2]) : t;
      results[k].push({ shape: y.shape, data: y.dataSync().slice() });
      if (y !== t) y.dispose();
      t.dispose();
    });
    input.dispose();
  }
  heads.forEach((h, k) => {
    const chunks = results[k];
    const rowShape = chunks[0].shape.slice(1);
    const n = chunks.reduce((a, c) => a + c.shape[0], 0);
    const data = new Float32Array(chunks.reduce((a, c) => a + c.data.length, 0));
    let off = 0;
    for (const c of chunks) { data.set(c.data, off); off += c.data.length; }
    writeNpy(path.join(outDir, `${h.name}${h.pool ? `_${h.pool}` : ''}.npy`), [n, ...rowShape], data);
  });
  console.error(`tfjs-reference: backend ${backend}, ${x.shape[0]} inputs, layers ${layers.join(' ')}`);
}

main().catch((e) => { console.error(`tfjs-reference: ${e.stack || e.message}`); process.exit(1); });
