// The ONNX Runtime peer of bench/nn/run_bench.py (npm onnxruntime-node from peers/node_modules).
//   node ort_peer.mjs bench MODEL.onnx --batch N [--threads T] [--min-seconds S] [--min-iters K] [--warmup W]
//     prints {"images_per_s":..., "ms_per_batch":..., "peak_rss_mb":..., "iterations":...} (the same fields as
//     `xfer model bench --json`); input: the model's first input, batch N, uniform random values.
//   node ort_peer.mjs run MODEL.onnx IN.f32 DIMS OUT.f32   (raw little-endian float32; DIMS like 8x3x224x224)
//     runs once and writes the first output raw, its shape on stdout: a check of exported models.
import { createRequire } from 'node:module';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const peers = process.env.XFER_PEERS_DIR || path.join(here, '..', '..', 'peers');
const require = createRequire(path.join(peers, 'package.json'));
const ort = require('onnxruntime-node');

function option(args, name, fallback) {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
}

async function session(model, threads) {
  return ort.InferenceSession.create(model, {
    intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
}

async function bench(model, args) {
  const batch = option(args, '--batch', 1);
  const threads = option(args, '--threads', 2);
  const minSeconds = option(args, '--min-seconds', 5);
  const minIters = option(args, '--min-iters', 3);
  const warmup = option(args, '--warmup', 2);
  const s = await session(model, threads);
  const inputName = s.inputNames[0];
  // The side comes from the model's declared input; onnxruntime-node 1.30 exposes it in inputMetadata.
  const meta = s.inputMetadata ? (Array.isArray(s.inputMetadata) ? s.inputMetadata[0] : s.inputMetadata[inputName])
                               : null;
  let dims = meta && meta.shape ? meta.shape.map((d) => (typeof d === 'number' && d > 0 ? d : batch)) : null;
  if (!dims) dims = [batch, 3, option(args, '--side', 224), option(args, '--side', 224)];
  dims[0] = batch;
  const count = dims.reduce((a, b) => a * b, 1);
  const data = new Float32Array(count);
  for (let i = 0; i < count; ++i) data[i] = Math.random() * 2 - 1;
  const feeds = { [inputName]: new ort.Tensor('float32', data, dims) };
  for (let i = 0; i < warmup; ++i) await s.run(feeds);
  let iters = 0;
  const start = process.hrtime.bigint();
  let seconds = 0;
  while (iters < minIters || seconds < minSeconds) {
    await s.run(feeds);
    ++iters;
    seconds = Number(process.hrtime.bigint() - start) / 1e9;
  }
  const result = {
    images_per_s: (batch * iters) / seconds,
    ms_per_batch: (1000 * seconds) / iters,
    peak_rss_mb: process.resourceUsage().maxRSS / 1024,
    iterations: iters,
    input_shape: dims,
  };
  console.log(JSON.stringify(result));
}

async function run(model, inFile, dimsText, outFile) {
  const s = await session(model, 2);
  const dims = dimsText.split('x').map(Number);
  const buf = readFileSync(inFile);
  const data = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
  const out = await s.run({ [s.inputNames[0]]: new ort.Tensor('float32', data, dims) });
  const t = out[s.outputNames[0]];
  writeFileSync(outFile, Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  console.log(JSON.stringify({ output: s.outputNames[0], shape: t.dims }));
}

const [mode, model, ...rest] = process.argv.slice(2);
try {
  if (mode === 'bench' && model) await bench(model, rest);
  else if (mode === 'run' && rest.length === 3) await run(model, ...rest);
  else {
    console.error('usage: ort_peer.mjs bench MODEL --batch N [--threads T] | run MODEL IN.f32 DIMS OUT.f32');
    process.exit(2);
  }
} catch (e) {
  console.error(`ort_peer: ${model}: ${e.message}`);
  process.exit(1);
}
