/**
 * Commands from the network against the real daemon: a retained command published while it is connected is refused
 * (one warning, no effect); an MQTT 5 response topic outside `<prefix>/<id>/reply/` is ignored (never the event
 * topic); a key with a newline cannot forge a log line; 500 reload-model requests make a few reloads (one running,
 * one waiting at any time) while people in view are still decided.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { MqttClient } from 'mqtt';
import { Mosquitto, waitFor } from './helpers/mosquitto.js';
import { DaemonProcess, EventCollector, daemonConfig } from './helpers/daemon-process.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mw-fault-cmd-'));
const broker = new Mosquitto();
const BASE = 'maskwatch/cmd-door';
let daemon: DaemonProcess;
let client: MqttClient;
const received: Array<{ topic: string; payload: string; correlation?: string; at: number }> = [];
let events: EventCollector;

before(async () => {
  await broker.start();
  client = await broker.client({ protocolVersion: 5, clientId: 'cmd-tester' });
  client.on('message', (topic, payload, packet) =>
    received.push({ topic, payload: payload.toString(), correlation: packet.properties?.correlationData?.toString(), at: Date.now() }),
  );
  events = new EventCollector(client, `${BASE}/event`);
  await client.subscribeAsync([`${BASE}/event`, `${BASE}/state`, `${BASE}/availability`, `${BASE}/cmd/+/result`, `${BASE}/reply/#`], { qos: 1 });
  daemon = new DaemonProcess(tmp, 'cmd-door', daemonConfig(tmp, 'cmd-door', { url: broker.url }));
  await waitFor('the daemon online and a first event', () => received.some((m) => m.topic === `${BASE}/availability` && m.payload === 'online') && events.unique().length >= 1, 60_000);
});
after(async () => {
  daemon?.kill();
  await broker.dispose();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const replies = (command: string) =>
  received.filter((m) => m.topic === `${BASE}/cmd/${command}/result`).map((m) => JSON.parse(m.payload) as { ok: boolean; message: string; id?: string | number });
const logLines = () => daemon.stderr.split('\n');

test('a retained command published while connected is not executed; one warning line', { timeout: 60_000 }, async () => {
  await client.publishAsync(`${BASE}/cmd/lamp-test`, '{"id":"retained-lamp"}', { qos: 1, retain: true });
  await client.publishAsync(`${BASE}/cmd/mute`, '{"minutes":60,"id":"retained-mute"}', { qos: 1, retain: true });
  // A live command after them: its reply shows the router works and that the retained ones came and went.
  await sleep(1000);
  await client.publishAsync(`${BASE}/cmd/mute`, '{"seconds":0,"id":"live-unmute"}', { qos: 1 });
  await waitFor('the live command reply', () => replies('mute').some((r) => r.id === 'live-unmute'));
  await sleep(500);
  assert.deepEqual(replies('lamp-test'), [], 'no lamp test ran');
  assert.deepEqual(replies('mute').map((r) => r.id), ['live-unmute'], 'the retained mute was not executed');
  assert.ok(!/lamp test done|buzzer muted/.test(daemon.stderr), daemon.stderr);
  const refused = logLines().filter((l) => /WARN .*refused a retained command/.test(l));
  assert.equal(refused.length, 1, daemon.stderr);
  assert.match(refused[0]!, /on cmd\/"lamp-test": commands must not be retained/);
  // Cleared as the warning says (empty retained messages), so a restart would not see them.
  await client.publishAsync(`${BASE}/cmd/lamp-test`, '', { qos: 1, retain: true });
  await client.publishAsync(`${BASE}/cmd/mute`, '', { qos: 1, retain: true });
});

test('an MQTT 5 response topic pointing at the event topic is ignored; one under reply/ gets the reply with the correlation data', { timeout: 60_000 }, async () => {
  // One at a time: three requests of one name at once would make the third 'already waiting'.
  const requests = [['to-event', `${BASE}/event`, 'corr-event'], ['to-state', `${BASE}/state`, 'corr-state'], ['to-reply', `${BASE}/reply/app-1`, 'corr-42']] as const;
  for (const [id, responseTopic, correlation] of requests) {
    await client.publishAsync(`${BASE}/cmd/mute`, JSON.stringify({ seconds: 0, id }), { qos: 1, properties: { responseTopic, correlationData: Buffer.from(correlation) } });
    await waitFor(`the reply to ${id} on cmd/mute/result`, () => replies('mute').some((r) => r.id === id));
  }
  await waitFor('the reply on reply/app-1', () => received.some((m) => m.topic === `${BASE}/reply/app-1`));
  await sleep(500);

  const onReply = received.filter((m) => m.topic.startsWith(`${BASE}/reply/`));
  assert.equal(onReply.length, 1);
  assert.equal(onReply[0]!.topic, `${BASE}/reply/app-1`);
  assert.equal(onReply[0]!.correlation, 'corr-42');
  assert.deepEqual(JSON.parse(onReply[0]!.payload), { ok: true, message: 'buzzer un-muted', id: 'to-reply' });
  const intruders = received.filter((m) => (m.topic === `${BASE}/event` || m.topic === `${BASE}/state`) && /"ok":/.test(m.payload));
  assert.deepEqual(intruders, [], 'nothing but events on the event topic, nothing but state on the state topic');
  assert.ok(events.received.every((e) => typeof e.seq === 'number' && typeof e.id === 'string'));
  const ignored = logLines().filter((l) => l.includes('ignored the response topic'));
  assert.equal(ignored.length, 2, daemon.stderr);
  assert.match(ignored[0]!, /WARN  \[commands\] ignored the response topic "maskwatch\/cmd-door\/event": replies go only under maskwatch\/cmd-door\/reply\//);
});

test('log forging: a key with a newline and a fake log line stays on one escaped line', { timeout: 60_000 }, async () => {
  const forged = '2026-01-01T00:00:00.000Z ERROR [pipeline] FORGED';
  await client.publishAsync(`${BASE}/cmd/mute`, JSON.stringify({ [`x\n${forged}`]: 1, [`\u001b[2Jclear\r${forged}`]: 2, id: 'forge' }), { qos: 1 });
  // Mosquitto disconnects a client whose topic holds a control character; U+2028 (a line break to some viewers) passes.
  await client.publishAsync(`${BASE}/cmd/no-such\u2028${forged}`, '{}', { qos: 1 });
  await waitFor('the reply to the forged keys', () => replies('mute').some((r) => r.id === 'forge'));
  await waitFor('the line about the unknown command', () => daemon.stderr.includes('no-such'));
  const lines = logLines();
  assert.deepEqual(lines.filter((l) => l.startsWith('2026-01-01T00:00:00.000Z')), [], 'no line starts with the forged timestamp');
  assert.deepEqual(lines.filter((l) => l && !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (DEBUG|INFO |WARN |ERROR) \[[\w-]+\] /.test(l)), [], 'every line is a log line of the daemon');
  assert.ok(lines.every((l) => !l.includes('\u001b') && !l.includes('\r')), 'no raw control characters in the log');
  const keyLine = lines.find((l) => l.includes('unknown key'))!;
  // Each key quoted, its newline, carriage return and escape character written as \n, \r, \u001b, cut at 40 characters.
  assert.match(keyLine, /^\S+ WARN  \[commands\] command "mute": unknown key\(s\) "x\\n2026-01-01T00:00:00\.000Z ERROR \[pipeli\\u2026", "\\u001b\[2Jclear\\r2026-01-01T00:00:00\.000Z ERROR\\u2026"$/);
  assert.match(daemon.stderr, /command "no-such\\u20282026-01-01T00:00:00\.000Z ERROR \[pipeline\] FORGED": unknown command/);
  assert.ok(!daemon.stderr.includes('\u2028'));
  assert.equal(replies('mute').find((r) => r.id === 'forge')!.ok, false);
});

test('a name too long for a reply topic, an empty message, an oversized payload: none runs anything or stops the daemon', { timeout: 60_000 }, async () => {
  // A topic of MQTT's full 65,535 bytes: its reply topic would be longer than MQTT allows, and once writing that reply
  // threw inside MQTT.js and ended the process.
  await client.publishAsync(`${BASE}/cmd/${'a'.repeat(65_535 - `${BASE}/cmd/`.length)}`, '{}', { qos: 1 });
  await client.publishAsync(`${BASE}/cmd/${'b'.repeat(2000)}`, '{}', { qos: 1 });
  // How a retained command is cleared; MQTT 3.1.1 brokers pass it to live subscribers without the retain flag.
  await client.publishAsync(`${BASE}/cmd/lamp-test`, '', { qos: 1 });
  await client.publishAsync(`${BASE}/cmd/mute`, JSON.stringify({ seconds: 60, id: 'big', pad: 'x'.repeat(5000) }), { qos: 1 });
  // Bigger than the 64 KiB the daemon takes (MQTT 5 Maximum Packet Size): the broker does not deliver it.
  await client.publishAsync(`${BASE}/cmd/mute`, JSON.stringify({ seconds: 60, id: 'huge', pad: 'x'.repeat(200_000) }), { qos: 1 });
  await client.publishAsync(`${BASE}/cmd/mute`, '{"seconds":0,"id":"after"}', { qos: 1 });
  await waitFor('the reply to the command after them', () => replies('mute').some((r) => r.id === 'after'));
  await sleep(500);
  assert.ok(daemon.running, daemon.stderr.slice(-2000));
  assert.deepEqual(replies('lamp-test'), [], 'the empty message ran no lamp test');
  assert.ok(!/lamp test done/.test(daemon.stderr));
  assert.deepEqual(received.filter((m) => /\/cmd\/[ab]{100,}/.test(m.topic)), [], 'no reply to the long names');
  const big = replies('mute').find((r) => r.id === 'big');
  assert.equal(big, undefined, 'an oversized payload is refused before it is parsed, so its id is not known');
  assert.match(daemon.stderr, /WARN  \[commands\] command "mute": payload too large \(50\d\d bytes; a command takes at most 4096\)/);
  assert.ok(!replies('mute').some((r) => r.id === 'huge'));
  assert.doesNotMatch(daemon.stderr, /payload too large \(2\d{5} bytes/, 'the broker kept the 200 kB message from the daemon');
  assert.ok(!/buzzer muted for 60 s/.test(daemon.stderr));
  const long = logLines().filter((l) => l.includes('ignored a command named'));
  assert.equal(long.length, 1, daemon.stderr.slice(-2000));
  assert.match(long[0]!, /ignored a command named "b{40}\\u2026" \(2000 characters; no command is longer than 64\)$/);
});

test('mute is bounded to 7 days, given in minutes or in seconds', { timeout: 30_000 }, async () => {
  const ask = async (payload: Record<string, unknown>) => {
    await client.publishAsync(`${BASE}/cmd/mute`, JSON.stringify(payload), { qos: 1 });
    await waitFor(`the reply to ${payload.id}`, () => replies('mute').some((r) => r.id === payload.id));
    return replies('mute').find((r) => r.id === payload.id)!;
  };
  assert.deepEqual(await ask({ minutes: 7 * 24 * 60, id: 'week-min' }), { ok: true, message: 'buzzer muted for 604800 s', id: 'week-min' });
  for (const [key, value] of [['minutes', 7 * 24 * 60 + 1], ['minutes', 7 * 24 * 3600], ['seconds', 7 * 24 * 3600 + 1]] as const) {
    const reply = await ask({ [key]: value, id: `${key}-${value}` });
    assert.equal(reply.ok, false, `${key} ${value}: ${reply.message}`);
    assert.match(reply.message, new RegExp(`^${key} must be a number from 0 to ${key === 'minutes' ? 10080 : 604800} \\(7 days\\)$`));
  }
  assert.deepEqual(await ask({ seconds: 0, id: 'unmute' }), { ok: true, message: 'buzzer un-muted', id: 'unmute' });
});

test('500 reload-model requests in a burst: a few reloads, every request answered, people still decided', { timeout: 180_000 }, async (t) => {
  const reloadLines = () => logLines().filter((l) => /\[daemon\] model reloaded: /.test(l)).length;
  const before = { reloads: reloadLines(), decided: daemon.decided(), at: Date.now() };
  for (let i = 0; i < 500; i++) client.publish(`${BASE}/cmd/reload-model`, JSON.stringify({ id: i }), { qos: 1 });
  await waitFor('500 replies', () => replies('reload-model').length >= 500, 150_000).catch((err: Error) => {
    throw new Error(`${err.message}: got ${replies('reload-model').length}, ${reloadLines() - before.reloads} reloads`);
  });
  const answered = replies('reload-model');
  assert.deepEqual(answered.map((r) => r.id).sort((a, b) => Number(a) - Number(b)), Array.from({ length: 500 }, (_, i) => i), 'each request answered once');
  const ok = answered.filter((r) => r.ok);
  // The daemon logs a reload before it replies, but its stderr pipe and the broker's socket reach this process
  // separately: the last reply can come in before the last log line has been read.
  await waitFor('a log line for each reload answered ok', () => reloadLines() - before.reloads >= ok.length, 5000).catch(() => undefined);
  const reloads = reloadLines() - before.reloads;
  // One runs, one waits, the rest are answered at once: a reload more only when the burst outlasts a reload.
  assert.ok(reloads >= 1 && reloads <= 5, `${reloads} reloads ran`);
  assert.equal(ok.length, reloads);
  const busy = answered.filter((r) => /^busy/.test(r.message)).length;
  t.diagnostic(`${reloads} reloads, ${answered.length - reloads - busy} already waiting, ${busy} busy; all answered in ${Math.max(...received.filter((m) => m.topic.endsWith('/reload-model/result')).map((m) => m.at)) - before.at} ms`);
  assert.ok(answered.filter((r) => !r.ok).every((r) => /already waiting to run|busy/.test(r.message)), JSON.stringify(answered.find((r) => !r.ok && !/already waiting|busy/.test(r.message))));
  // The demo clip decides someone every 3-5 s: the reloads must not hold the pipeline up.
  await waitFor('two people decided after the burst began', () => daemon.decided() >= before.decided + 2, 15_000).catch((err: Error) => {
    throw new Error(`${err.message}: ${daemon.decided() - before.decided} in ${Date.now() - before.at} ms`);
  });
  await waitFor('their events delivered', () => events.unique().length >= before.decided + 2, 5000);
  assert.ok(daemon.running);
  assert.equal((await daemon.stop()).code, 0, daemon.output);
});
