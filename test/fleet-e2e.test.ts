/**
 * docs/FLEET.md, tried: two daemons (real child processes, the demo clip, console lights) with distinct device ids
 * and state dirs on one Mosquitto. Each device's events stay apart (topics, `device`, seq, discovery unique_ids), and
 * consumers sharing an MQTT 5 subscription (`$share/<group>/maskwatch/+/event`) get every event exactly once between them.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { MqttClient } from 'mqtt';
import { ROOT } from './helpers/cli.js';
import { Mosquitto, waitFor } from './helpers/mosquitto.js';

const broker = new Mosquitto();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'maskwatch-fleet-'));
before(() => broker.start());
after(async () => {
  await broker.dispose();
  fs.rmSync(tmp, { recursive: true, force: true });
});

interface Event {
  id: string;
  seq: number;
  device: string;
  label: string;
  event_type: string;
}

/** `maskwatch run --camera demo --gpio console`, its device id from the environment as an install would set it. */
function runDaemon(deviceId: string) {
  const config = path.join(tmp, `${deviceId}.json`);
  fs.writeFileSync(config, JSON.stringify({ camera: { loop: false }, signals: { lampTest: false }, mqtt: { statsIntervalS: 0 } }));
  const args = ['run', '--camera', 'demo', '--gpio', 'console', '--config', config, '--mqtt-url', broker.url, '--state-dir', path.join(tmp, deviceId)];
  const proc = spawn(process.execPath, [path.join(ROOT, 'bin/maskwatch.js'), ...args], { cwd: ROOT, env: { ...process.env, MASKWATCH_DEVICE_ID: deviceId }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  return { deviceId, proc, exited, out: () => out };
}

async function sharedConsumer(name: string): Promise<{ client: MqttClient; got: Event[] }> {
  const client = await broker.client({ protocolVersion: 5, clientId: name });
  const got: Event[] = [];
  client.on('message', (_topic, payload) => got.push(JSON.parse(payload.toString()) as Event));
  await client.subscribeAsync('$share/fleet-consumers/maskwatch/+/event', { qos: 1 });
  return { client, got };
}

test('two doors on one broker: events, device fields, seqs and Home Assistant unique_ids apart; a shared subscription gets each event once', { timeout: 240_000 }, async () => {
  const watcher = await broker.client({ protocolVersion: 5 });
  const byTopic: Array<{ topic: string; event: Event }> = [];
  watcher.on('message', (topic, payload) => {
    if (topic.endsWith('/event')) byTopic.push({ topic, event: JSON.parse(payload.toString()) as Event });
  });
  await watcher.subscribeAsync('maskwatch/+/event', { qos: 1 });
  const consumers = [await sharedConsumer('fleet-consumer-1'), await sharedConsumer('fleet-consumer-2')];

  const doors = [runDaemon('door-north'), runDaemon('door-south')];
  const codes = await Promise.all(doors.map((d) => d.exited));
  for (const [i, d] of doors.entries()) assert.equal(codes[i], 0, d.out());
  const expected = JSON.parse(fs.readFileSync(path.join(tmp, 'door-north/demo/demo.json'), 'utf8')) as { expected: string[] };
  const total = 2 * expected.expected.length;
  await waitFor('every event at the watcher and the consumers', () => byTopic.length >= total && consumers[0]!.got.length + consumers[1]!.got.length >= total, 10_000);

  for (const d of doors) {
    const mine = byTopic.filter((m) => m.topic === `maskwatch/${d.deviceId}/event`).map((m) => m.event);
    assert.deepEqual(mine.map((e) => e.device), mine.map(() => d.deviceId), 'the device field names the topic’s device');
    assert.deepEqual(mine.map((e) => e.seq), expected.expected.map((_, i) => i + 1), `${d.deviceId}: its own seq from 1`);
    assert.deepEqual(mine.map((e) => e.event_type), expected.expected, `${d.deviceId}: one event per demo person`);
  }
  assert.equal(byTopic.length, total, 'no event on another topic, none twice');

  // The shared subscription: each event to one consumer of the group, none lost, none twice (ids are UUIDs).
  const shared = consumers.flatMap((c) => c.got);
  assert.equal(shared.length, total);
  assert.deepEqual(new Set(shared.map((e) => e.id)), new Set(byTopic.map((m) => m.event.id)));
  assert.equal(new Set(shared.map((e) => e.id)).size, total);
  assert.ok(consumers.every((c) => c.got.length > 0), `both consumers got a share (${consumers.map((c) => c.got.length).join(' + ')})`);

  // Home Assistant: one device per door, unique_ids that cannot collide.
  const configs = new Map<string, { unique_id: string; device: { identifiers: string[] } }>();
  const late = await broker.client();
  late.on('message', (topic, payload) => payload.length && configs.set(topic, JSON.parse(payload.toString())));
  await late.subscribeAsync('homeassistant/+/+/+/config', { qos: 1 });
  await new Promise((r) => setTimeout(r, 500));
  const nodes = new Set([...configs.keys()].map((t) => t.split('/')[2]));
  assert.deepEqual([...nodes].sort(), ['maskwatch_door-north', 'maskwatch_door-south']);
  const ids = [...configs].map(([t, c]) => {
    const node = t.split('/')[2]!;
    assert.deepEqual(c.device.identifiers, [node]);
    assert.ok(c.unique_id.startsWith(`${node}_`), c.unique_id);
    return c.unique_id;
  });
  assert.equal(new Set(ids).size, ids.length, 'no unique_id shared between the doors');
  await late.endAsync();
  await watcher.endAsync();
  for (const c of consumers) await c.client.endAsync();
});
