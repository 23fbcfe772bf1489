/**
 * The Mosquitto ACL and bridge in docs/FLEET.md, loaded as they are into real Mosquittos. The ACL: each door publishes only under its own id
 * and reads only its own commands; Home Assistant reads every door and sends commands; the event store reads events
 * (through its shared subscription) and nothing else; staff send commands and read the replies.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { MqttClient } from 'mqtt';
import { ROOT } from './helpers/cli.js';
import { Mosquitto, waitFor } from './helpers/mosquitto.js';

const doc = fs.readFileSync(path.join(ROOT, 'docs/FLEET.md'), 'utf8');
const acl = /```acl\n([\s\S]*?)```/.exec(doc)?.[1];
const USERS = ['door-north', 'door-south', 'homeassistant', 'event-store', 'operator'] as const;
type User = (typeof USERS)[number];
const broker = new Mosquitto({ users: Object.fromEntries(USERS.map((u) => [u, `pw-${u}`])), acl: acl ?? '' });
before(() => broker.start());
after(() => broker.dispose());

const clients = new Map<User, { client: MqttClient; got: string[] }>();
async function as(user: User) {
  if (!clients.has(user)) {
    const client = await broker.client({ protocolVersion: 5, username: user, password: `pw-${user}`, clientId: `acl-${user}` });
    const got: string[] = [];
    client.on('message', (topic) => got.push(topic));
    clients.set(user, { client, got });
  }
  return clients.get(user)!;
}

/** Publishes with QoS 1; true when the broker acknowledged it as accepted (MQTT 5 PUBACK reason code below 0x80). */
async function publish(user: User, topic: string): Promise<boolean> {
  const { client } = await as(user);
  try {
    const packet = await client.publishAsync(topic, '{}', { qos: 1 });
    return ((packet as { reasonCode?: number } | undefined)?.reasonCode ?? 0) < 0x80;
  } catch {
    return false;
  }
}
async function subscribe(user: User, filter: string): Promise<boolean> {
  const granted = await (await as(user)).client.subscribeAsync(filter, { qos: 1 });
  return granted.every((g) => g.qos < 0x80);
}
const settle = () => new Promise((r) => setTimeout(r, 300));

test('the ACL in docs/FLEET.md, in a real Mosquitto: who may publish, read and command', { timeout: 30_000 }, async () => {
  assert.ok(acl, 'docs/FLEET.md has an ```acl block');
  // What each role subscribes to.
  assert.equal(await subscribe('homeassistant', 'maskwatch/#'), true);
  assert.equal(await subscribe('event-store', '$share/event-store/maskwatch/+/event'), true);
  assert.equal(await subscribe('door-north', 'maskwatch/door-north/cmd/+'), true);
  assert.equal(await subscribe('door-north', 'homeassistant/status'), true);
  assert.equal(await subscribe('operator', 'maskwatch/+/cmd/+/result'), true);
  // Mosquitto grants these subscriptions but delivers nothing the ACL does not let the user read (checked below).
  await subscribe('door-south', 'maskwatch/door-north/cmd/+');
  await subscribe('event-store', 'maskwatch/+/cmd/+');

  // A door: its own topics yes, another door's and commands no.
  assert.equal(await publish('door-north', 'maskwatch/door-north/event'), true);
  assert.equal(await publish('door-north', 'maskwatch/door-north/cmd/mute/result'), true);
  assert.equal(await publish('door-north', 'homeassistant/sensor/maskwatch_door-north/light/config'), true);
  assert.equal(await publish('door-north', 'maskwatch/door-south/event'), false);
  assert.equal(await publish('door-north', 'maskwatch/door-north/cmd/mute'), false);
  assert.equal(await publish('door-north', 'homeassistant/sensor/maskwatch_door-south/light/config'), false);
  // Commands: Home Assistant and staff; not the event store.
  assert.equal(await publish('homeassistant', 'maskwatch/door-north/cmd/lamp-test'), true);
  assert.equal(await publish('operator', 'maskwatch/door-north/cmd/mute'), true);
  assert.equal(await publish('event-store', 'maskwatch/door-north/cmd/mute'), false);
  assert.equal(await publish('event-store', 'maskwatch/door-north/event'), false);
  await settle();

  const ha = (await as('homeassistant')).got;
  await waitFor('Home Assistant sees the allowed messages', () => ha.includes('maskwatch/door-north/event') && ha.includes('maskwatch/door-north/cmd/mute'));
  assert.deepEqual([...new Set(ha)].sort(), ['maskwatch/door-north/cmd/lamp-test', 'maskwatch/door-north/cmd/mute', 'maskwatch/door-north/cmd/mute/result', 'maskwatch/door-north/event'], 'nothing refused got through');
  assert.deepEqual((await as('event-store')).got, ['maskwatch/door-north/event'], 'the event store reads events, not commands');
  assert.deepEqual((await as('door-south')).got, [], 'a door does not read another door’s commands');
  assert.deepEqual((await as('door-north')).got.sort(), ['maskwatch/door-north/cmd/lamp-test', 'maskwatch/door-north/cmd/mute']);
  assert.deepEqual((await as('operator')).got, ['maskwatch/door-north/cmd/mute/result']);
  for (const { client } of clients.values()) await client.endAsync();
});

test('the bridge in docs/FLEET.md between two real Mosquittos: events and discovery go up, commands and the HA birth come down, nothing loops', { timeout: 30_000 }, async () => {
  const conf = /```conf\n([\s\S]*?)```/.exec(doc)?.[1];
  assert.ok(conf, 'docs/FLEET.md has a ```conf bridge block');
  const central = new Mosquitto();
  await central.start();
  // The documented bridge, pointed at the test's central broker (no TLS or login there).
  const bridge = conf
    .split('\n')
    .filter((l) => !/^(bridge_cafile|remote_username|remote_password_file)\b/.test(l))
    .map((l) => (l.startsWith('address ') ? `address 127.0.0.1:${central.port}` : l));
  const shop = new Mosquitto({ extraConfig: () => bridge });
  try {
    await shop.start();
    const door = await shop.client({ protocolVersion: 5, clientId: 'bridge-door' });
    const doorGot: string[] = [];
    door.on('message', (topic) => doorGot.push(topic));
    await door.subscribeAsync(['maskwatch/door-north/cmd/+', 'homeassistant/status'], { qos: 1 });
    const hq = await central.client({ protocolVersion: 5, clientId: 'bridge-hq' });
    const hqGot: string[] = [];
    hq.on('message', (topic) => hqGot.push(topic));
    await hq.subscribeAsync(['maskwatch/#', 'homeassistant/#'], { qos: 1 });
    // The bridge connects on its own schedule: wait until an event makes it up.
    await waitFor('the bridge up', () => {
      void door.publishAsync('maskwatch/door-north/availability', 'online', { qos: 1, retain: true });
      return hqGot.includes('maskwatch/door-north/availability');
    });
    hqGot.length = 0;
    await door.publishAsync('maskwatch/door-north/event', '{}', { qos: 1 });
    await door.publishAsync('homeassistant/sensor/maskwatch_door-north/light/config', '{}', { qos: 1 });
    await hq.publishAsync('maskwatch/door-north/cmd/mute', '{}', { qos: 1 });
    await hq.publishAsync('homeassistant/status', 'online', { qos: 0 });
    await waitFor('commands and the birth message down', () => doorGot.includes('maskwatch/door-north/cmd/mute') && doorGot.includes('homeassistant/status'));
    await door.publishAsync('maskwatch/door-north/cmd/mute/result', '{"ok":true}', { qos: 1 });
    await waitFor('the reply up', () => hqGot.includes('maskwatch/door-north/cmd/mute/result'));
    await settle();
    assert.deepEqual(doorGot.sort(), ['homeassistant/status', 'maskwatch/door-north/cmd/mute'], 'each once');
    // (availability was the probe above, published until the bridge was up)
    assert.deepEqual(hqGot.filter((t) => !t.endsWith('/availability')).sort(), ['homeassistant/sensor/maskwatch_door-north/light/config', 'homeassistant/status', 'maskwatch/door-north/cmd/mute', 'maskwatch/door-north/cmd/mute/result', 'maskwatch/door-north/event'], 'each once: no command echoed back up');
    await door.endAsync();
    await hq.endAsync();
  } finally {
    await shop.dispose();
    await central.dispose();
  }
});
