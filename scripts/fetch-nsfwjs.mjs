#!/usr/bin/env node
// Unwraps the pretrained models that npm's nsfwjs@4.4.0 ships as browserify modules into standard TF.js layers
// files (model.json + groupN-shardKofM.bin), which xfer (and tf.loadLayersModel) read directly.
//
// Usage: node scripts/fetch-nsfwjs.mjs [--model inception_v3|mobilenet_v2|all] [--out CACHE_DIR]
//   CACHE_DIR defaults to $XFER_MODEL_CACHE, else $XDG_CACHE_HOME/xfer/models, else ~/.cache/xfer/models
//   (the same place xfer's built-in names nsfwjs_inception_v3 / nsfwjs_mobilenet_v2 look).
//   Each model goes to CACHE_DIR/nsfwjs_<model>/. Prints that folder per model on stdout.
//
// The package comes from peers/node_modules (scripts/install-deps.sh runs `npm ci` there); nothing is
// downloaded. Idempotent: files already present with the expected bytes are left alone; new files are written
// to a temporary name and renamed, so a half-written model never looks complete. The total shard size is checked
// against the weights manifest (element counts x stored dtype size), so a truncated package is an error.
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const modelsDir = path.join(here, '..', 'peers', 'node_modules', 'nsfwjs', 'dist', 'models');
const require = createRequire(import.meta.url);

function defaultCache() {
  if (process.env.XFER_MODEL_CACHE) return process.env.XFER_MODEL_CACHE;
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'xfer', 'models');
}

function parseArgs(argv) {
  const args = { model: 'all', out: defaultCache() };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--model' && i + 1 < argv.length) args.model = argv[++i];
    else if (a === '--out' && i + 1 < argv.length) args.out = argv[++i];
    else if (a === '--help' || a === '-h') {
      console.log('usage: node scripts/fetch-nsfwjs.mjs [--model inception_v3|mobilenet_v2|all] [--out CACHE_DIR]');
      process.exit(0);
    } else {
      console.error(`fetch-nsfwjs: unknown argument ${a}`);
      process.exit(2);
    }
  }
  return args;
}

const storedSize = { float32: 4, int32: 4, float16: 2, uint16: 2, uint8: 1, int8: 1, bool: 1 };

function manifestBytes(manifest) {
  let total = 0;
  for (const group of manifest) {
    for (const w of group.weights) {
      const dtype = w.quantization ? w.quantization.dtype : w.dtype;
      if (!(dtype in storedSize)) throw new Error(`weight ${w.name}: unknown stored dtype ${dtype}`);
      total += w.shape.reduce((a, b) => a * b, 1) * storedSize[dtype];
    }
  }
  return total;
}

function writeIfChanged(file, bytes) {
  if (fs.existsSync(file)) {
    const old = fs.readFileSync(file);
    if (old.length === bytes.length && old.equals(bytes)) return false;
  }
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, bytes);
  fs.renameSync(tmp, file);
  return true;
}

function unwrap(model, cache) {
  const src = path.join(modelsDir, model);
  if (!fs.existsSync(path.join(src, 'model.min.js'))) {
    throw new Error(`${src}: no nsfwjs model here (run scripts/install-deps.sh to install the npm peers)`);
  }
  const json = require(path.join(src, 'model.min.js'));
  if (!json || !json.modelTopology || !Array.isArray(json.weightsManifest)) {
    throw new Error(`${src}/model.min.js: not a TF.js layers model (no modelTopology/weightsManifest)`);
  }
  const out = path.join(cache, `nsfwjs_${model}`);
  fs.mkdirSync(out, { recursive: true });

  // Shards first, model.json last: a folder with a model.json is complete.
  let changed = 0;
  let total = 0;
  for (const group of json.weightsManifest) {
    for (const p of group.paths) {
      if (p !== path.basename(p) || p.startsWith('.')) throw new Error(`${src}: suspicious shard path ${p}`);
      const b64 = require(path.join(src, `${p}.min.js`));
      if (typeof b64 !== 'string') throw new Error(`${src}/${p}.min.js: not a base64 string`);
      const bytes = Buffer.from(b64, 'base64');
      total += bytes.length;
      changed += writeIfChanged(path.join(out, `${p}.bin`), bytes);
    }
  }
  const expected = manifestBytes(json.weightsManifest);
  if (total !== expected) {
    throw new Error(`${src}: shards hold ${total} bytes but the weights manifest needs ${expected}`);
  }
  const manifest = json.weightsManifest.map((g) => ({ ...g, paths: g.paths.map((p) => `${p}.bin`) }));
  const modelJson = {
    format: 'layers-model',
    generatedBy: `keras v${json.modelTopology.keras_version || 'unknown'}`,
    convertedBy: 'nsfwjs@4.4.0 via xfer scripts/fetch-nsfwjs.mjs',
    modelTopology: json.modelTopology,
    weightsManifest: manifest,
  };
  changed += writeIfChanged(path.join(out, 'model.json'), Buffer.from(JSON.stringify(modelJson)));
  console.error(`fetch-nsfwjs: ${model}: ${total} weight bytes, ${changed ? `${changed} file(s) written` : 'up to date'}`);
  console.log(out);
}

const args = parseArgs(process.argv.slice(2));
const models = args.model === 'all' ? ['inception_v3', 'mobilenet_v2'] : [args.model];
try {
  for (const m of models) {
    if (!['inception_v3', 'mobilenet_v2', 'mobilenet_v2_mid'].includes(m)) {
      console.error(`fetch-nsfwjs: unknown model ${m} (inception_v3, mobilenet_v2, mobilenet_v2_mid, all)`);
      process.exit(2);
    }
    unwrap(m, args.out);
  }
} catch (e) {
  console.error(`fetch-nsfwjs: ${e.message}`);
  process.exit(1);
}
