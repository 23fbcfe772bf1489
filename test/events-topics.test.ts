import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseCommand } from '../src/events/commands.js';
import { checkTopicPart, COMMAND_NAMES, Topics, TOPICS } from '../src/events/topics.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

test('docs/MQTT.md documents every topic and command', () => {
  const doc = fs.readFileSync(path.join(ROOT, 'docs/MQTT.md'), 'utf8');
  for (const name of Object.keys(TOPICS)) assert.ok(doc.includes(`\`maskwatch/door1/${name}\``), `docs/MQTT.md lacks the ${name} topic`);
  for (const name of COMMAND_NAMES) assert.ok(doc.includes(`| \`${name}\` |`), `docs/MQTT.md lacks the ${name} command`);
  assert.ok(doc.includes('cmd/<name>/result'));
});

test('topic names and command topics', () => {
  const t = new Topics('site/a', 'door1');
  assert.equal(t.topic('event'), 'site/a/door1/event');
  assert.equal(t.commandFilter(), 'site/a/door1/cmd/+');
  assert.equal(t.commandName('site/a/door1/cmd/mute'), 'mute');
  assert.equal(t.commandName('site/a/door1/cmd/mute/result'), null);
  assert.equal(t.commandName('site/a/door2/cmd/mute'), null);
  assert.throws(() => checkTopicPart('deviceId', 'door/1', false), /deviceId 'door\/1'/);
  assert.throws(() => checkTopicPart('deviceId', 'door+', false));
  assert.throws(() => checkTopicPart('mqtt.prefix', 'a//b', true));
  assert.throws(() => checkTopicPart('mqtt.prefix', 'a/#', true));
  assert.doesNotThrow(() => checkTopicPart('mqtt.prefix', 'site/a', true));
});

test('parseCommand: JSON objects only, known names and keys, id echoed, at most 4 KiB read', () => {
  assert.deepEqual(parseCommand('lamp-test', '{}'), { ok: true, name: 'lamp-test', payload: {} });
  assert.deepEqual(parseCommand('mute', '{"seconds": 90, "id": "x"}'), { ok: true, name: 'mute', payload: { seconds: 90 }, id: 'x' });
  assert.deepEqual(parseCommand('mute', '{}'), { ok: true, name: 'mute', payload: {} });
  const bad: [string, string, RegExp][] = [
    ['mute', '{"minutes": 1, "seconds": 2}', /either minutes or seconds/],
    ['mute', '{"minutes": null}', /minutes must be a number/],
    ['mute', '"5"', /JSON object/],
    ['mute', 'null', /JSON object/],
    ['mute', '{', /not valid JSON/],
    ['reboot', '{}', /unknown command "reboot"/],
    ['lamp-test', '{"id": {"a": 1}}', /id must be/],
    ['lamp-test', '', /not valid JSON/],
    ['mute', `{"seconds": 1, "pad": "${'x'.repeat(4096)}"}`, /^payload too large \(4121 bytes; a command takes at most 4096\)$/],
  ];
  for (const [name, body, message] of bad) {
    const r = parseCommand(name, body);
    assert.equal(r.ok, false, `${name} ${body}`);
    assert.match(r.message, message);
  }
  assert.equal(parseCommand('reboot', '{"id": 3}').id, 3);
});
