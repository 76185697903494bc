import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { launchChromium } from './browser';
import { startNodeRed, stopAllNodeRed, type RunningNodeRed } from './node-red';
import { waitUntil } from './support';

/**
 * A flow saved by an older version keeps the camera password in the source URL. Opened in the editor, the node moves
 * it into its credential fields; once deployed it is in the credentials file only, never in the flow Node-RED serves.
 */
describe('camera credentials in the editor', function () {
  this.timeout(120000);
  let red: RunningNodeRed;

  afterEach(stopAllNodeRed);

  it('moves a password out of the source URL into the credentials, and GET /flows never shows it', async function () {
    const flow = [
      { id: 'tab', type: 'tab', label: 'Cameras' },
      {
        id: 'cam', type: 'camera-source', z: 'tab', name: '', cameraId: 'door', source: 'rtsp://admin:Sup3rSecret%21@127.0.0.1:9/live',
        loop: true, realtime: true, width: 0, height: 0, fps: 0, autostart: false, ffmpegPath: '', x: 200, y: 100, wires: [[]],
      },
    ];
    red = await startNodeRed(this, { flows: flow });
    const browser = await launchChromium(this);
    try {
      const page = await browser.newPage({ viewport: { width: 1600, height: 900 } });
      await page.goto(`http://127.0.0.1:${red.port}/`);
      await page.waitForSelector('.red-ui-flow-node', { timeout: 30000 });
      type Red = { nodes: { node(id: string): unknown }; editor: { edit(node: unknown): void } };
      await page.evaluate(() => {
        const RED = (window as unknown as { RED: Red }).RED;
        RED.editor.edit(RED.nodes.node('cam'));
      });
      await page.waitForSelector('#node-input-password', { state: 'visible' });
      const fields = await page.evaluate(() => ({
        source: (document.getElementById('node-input-source') as HTMLInputElement).value,
        username: (document.getElementById('node-input-username') as HTMLInputElement).value,
        password: (document.getElementById('node-input-password') as HTMLInputElement).value,
      }));
      assert.deepEqual(fields, { source: 'rtsp://127.0.0.1:9/live', username: 'admin', password: 'Sup3rSecret!' });
      await page.click('#node-dialog-ok');
      await page.click('#red-ui-header-button-deploy');

      const served = await waitUntil(
        async () => (await fetch(`http://127.0.0.1:${red.port}/flows`)).text(),
        (text) => text.includes('"rtsp://127.0.0.1:9/live"'),
        15000,
        'the deployed flow without the credentials in its URL',
      );
      assert.ok(!served.includes('Sup3rSecret'), served);
      assert.ok(!readFileSync(path.join(red.userDir, 'flows.json'), 'utf8').includes('Sup3rSecret'), 'flows.json has no password');
      // The demo settings keep credentials unencrypted (credentialSecret false), so the file shows where they went.
      assert.match(readFileSync(path.join(red.userDir, 'flows_cred.json'), 'utf8'), /"password": ?"Sup3rSecret!"/);
    } finally {
      await browser.close();
    }
  });
});
