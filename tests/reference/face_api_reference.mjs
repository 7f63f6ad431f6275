#!/usr/bin/env node
// Differential-test oracle: runs @vladmandic/face-api (the reference implementation our C++
// networks port) on raw inputs written by tests/integration/face_api_reference_test.cpp.
//
// Usage: node face_api_reference.mjs <models_dir> <job.json>   (results JSON on stdout)
//
// job.json: {"cases": [{"id": "...", "kind": K, "input": "/abs/file.rgb", "width": W,
//                       "height": H, ...}]}
//   the input file holds exactly H*W*3 bytes: interleaved 8-bit RGB, row-major, no padding.
//   kind "embed"          150x150 chip -> {"embedding": [128 floats]}
//   kind "ssd"            512x512 image, "min_confidence" -> {"detections": [...]}
//   kind "tiny"           416x416 image, "score_threshold" (input_size 416) -> {"detections": [...]}
//   kind "landmarks"      112x112 face crop -> {"landmarks": [[x, y] x 68]} in input pixels
//   kind "landmarks_tiny" same with the tiny landmark net
//   kind "age_gender"     112x112 face crop -> {"age", "gender", "gender_probability"}
//   kind "expression"     112x112 face crop -> {"expressions": [7 probabilities, FaceExpressions order]}
//   detections: {"x", "y", "width", "height"} in input pixels, "score", best first.
//
// Backend: tfjs wasm by default (the .wasm binaries ship inside @tensorflow/tfjs-backend-wasm and
// load from disk in Node). FACE_API_BACKEND=cpu selects the pure-JS cpu backend instead.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

// tfjs and face-api print banners and hints with console.log; stdout must carry only the JSON.
const writeStdout = (text) => process.stdout.write(text);
console.log = (...args) => console.error(...args);
console.info = (...args) => console.error(...args);

function fail(message) {
  console.error(`face_api_reference: ${message}`);
  process.exit(2);
}

if (process.argv.length !== 4) fail('usage: node face_api_reference.mjs <models_dir> <job.json>');
const modelsDir = path.resolve(process.argv[2]);
const jobPath = path.resolve(process.argv[3]);

// face-api's node-wasm bundle re-exports @tensorflow/tfjs + tfjs-backend-wasm as faceapi.tf.
const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js');
const { tf } = faceapi;

const kNets = {
  embed: { net: 'faceRecognitionNet', file: 'face_recognition_model', size: 150 },
  ssd: { net: 'ssdMobilenetv1', file: 'ssd_mobilenetv1_model', size: 512 },
  tiny: { net: 'tinyFaceDetector', file: 'tiny_face_detector_model', size: 416 },
  landmarks: { net: 'faceLandmark68Net', file: 'face_landmark_68_model', size: 112 },
  landmarks_tiny: { net: 'faceLandmark68TinyNet', file: 'face_landmark_68_tiny_model', size: 112 },
  age_gender: { net: 'ageGenderNet', file: 'age_gender_model', size: 112 },
  expression: { net: 'faceExpressionNet', file: 'face_expression_model', size: 112 },
};
const kExpressions = ['neutral', 'happy', 'sad', 'angry', 'fearful', 'disgusted', 'surprised'];

function readJob() {
  let job;
  try {
    job = JSON.parse(fs.readFileSync(jobPath, 'utf8'));
  } catch (e) {
    fail(`cannot read job ${jobPath}: ${e.message}`);
  }
  if (!job || !Array.isArray(job.cases)) fail(`${jobPath}: expected {"cases": [...]}`);
  job.cases.forEach((c, i) => {
    const where = `${jobPath}: cases[${i}] (${c.id})`;
    if (!kNets[c.kind]) fail(`${where}: unknown kind "${c.kind}"`);
    if (!Number.isInteger(c.width) || !Number.isInteger(c.height)) fail(`${where}: width/height must be integers`);
    if (typeof c.input !== 'string') fail(`${where}: missing "input"`);
  });
  return job;
}

// The image as an int32 [H, W, 3] tensor: face-api casts tensors to float32 itself, so no canvas
// and no image decoding enter the comparison.
function loadRgb(c) {
  const bytes = fs.readFileSync(c.input);
  const expected = c.width * c.height * 3;
  if (bytes.length !== expected) {
    fail(`${c.input}: ${bytes.length} bytes, expected ${expected} for ${c.width}x${c.height} RGB`);
  }
  return tf.tensor3d(Int32Array.from(bytes), [c.height, c.width, 3], 'int32');
}

function detectionsJson(detections) {
  return detections.map((d) => ({
    x: d.box.x, y: d.box.y, width: d.box.width, height: d.box.height, score: d.score,
  }));
}

async function runCase(c) {
  const input = loadRgb(c);
  try {
    const net = faceapi.nets[kNets[c.kind].net];
    switch (c.kind) {
      case 'embed': {
        const descriptor = await net.computeFaceDescriptor(input);
        return { embedding: Array.from(descriptor) };
      }
      case 'ssd': {
        const options = new faceapi.SsdMobilenetv1Options({
          minConfidence: c.min_confidence ?? 0.5, maxResults: c.max_results ?? 100,
        });
        return { detections: detectionsJson(await net.locateFaces(input, options)) };
      }
      case 'tiny': {
        const options = new faceapi.TinyFaceDetectorOptions({
          inputSize: c.input_size ?? 416, scoreThreshold: c.score_threshold ?? 0.5,
        });
        return { detections: detectionsJson(await net.locateFaces(input, options)) };
      }
      case 'age_gender': {
        const { age, gender, genderProbability } = await net.predictAgeAndGender(input);
        return { age, gender, gender_probability: genderProbability };
      }
      case 'expression': {
        const expressions = await net.predictExpressions(input);
        return { expressions: kExpressions.map((name) => expressions[name]) };
      }
      default: { // landmarks, landmarks_tiny
        const landmarks = await net.detectLandmarks(input);
        return { landmarks: landmarks.positions.map((p) => [p.x, p.y]) };
      }
    }
  } finally {
    input.dispose();
  }
}

async function main() {
  const job = readJob();
  const backend = process.env.FACE_API_BACKEND || 'wasm';
  if (!(await tf.setBackend(backend))) fail(`tfjs backend "${backend}" failed to initialise`);
  await tf.ready();

  const kinds = [...new Set(job.cases.map((c) => c.kind))];
  for (const kind of kinds) {
    const { net, file } = kNets[kind];
    const manifest = path.join(modelsDir, `${file}-weights_manifest.json`);
    if (!fs.existsSync(manifest)) fail(`model manifest not found: ${manifest}`);
    await faceapi.nets[net].loadFromDisk(modelsDir);
  }

  const results = [];
  for (const c of job.cases) {
    const started = process.hrtime.bigint();
    const result = await runCase(c);
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    results.push({ id: c.id, kind: c.kind, ms, ...result });
  }
  const versions = {
    'face-api': faceapi.version,
    tfjs: tf.version?.tfjs ?? tf.version_core,
    'tfjs-backend-wasm': require('@tensorflow/tfjs-backend-wasm/package.json').version,
  };
  writeStdout(`${JSON.stringify({ backend: tf.getBackend(), versions, results })}\n`);
}

main().catch((e) => fail(e.stack || String(e)));
