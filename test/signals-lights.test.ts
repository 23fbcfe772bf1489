import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventBus } from '../src/core/bus.js';
import { ManualClock } from '../src/core/clock.js';
import type { DaemonEvents } from '../src/core/daemon-events.js';
import type { DaemonState } from '../src/core/seams.js';
import type { Label } from '../src/core/types.js';
import { LightsOutput } from '../src/daemon/outputs.js';
import { DoorState } from '../src/decision/door-state.js';
import { inQuietHours, Lights, lightsOptionsFromConfig, parsePattern, type LightsOptions } from '../src/signals/lights.js';
import { FakeGpio } from './helpers/fake-gpio.js';
import { schema, type MaskwatchConfig } from '../src/config/schema.js';
import convict from 'convict';

/**
 * Lights as the daemon drives them: the door state decides the light (with its hold time), the LightsOutput on the
 * bus sets it and buzzes once per decided person. `decide` is a new person decided in view, `stay` the same people
 * still in view, `leave` nobody decided in view any more.
 */
const defaults = convict<MaskwatchConfig>(schema as unknown as convict.Schema<MaskwatchConfig>, { env: {} }).getProperties().signals;
const HOLD_MS = defaults.holdMs;

function options(over: Partial<LightsOptions> = {}): LightsOptions {
  return { ...lightsOptionsFromConfig({ ...defaults, lampTest: false }), ...over };
}

/** Local 10:00 on 1 Jan 2026, whatever the machine's time zone. */
const TEN_AM = new Date(2026, 0, 1, 10, 0).getTime();

async function started(over: Partial<LightsOptions> = {}, epoch = TEN_AM) {
  const clock = new ManualClock(epoch);
  const gpio = new FakeGpio(clock);
  const lights = new Lights(gpio, options(over), clock);
  const bus = new EventBus<DaemonEvents>();
  const states: DaemonState[] = [];
  bus.on('state.changed', 'test', (st) => states.push(st));
  const door = new DoorState(clock, HOLD_MS, (st) => bus.emit('state.changed', st));
  new LightsOutput(bus, lights).start();
  await lights.start();
  let nextTrack = 1;
  const decide = (label: Label) => {
    bus.emit('person.decided', { decision: { trackId: nextTrack++, label, score: 0.9, frames: 3, durationMs: 200, firstSeenAt: 0, decidedAt: 200 }, model: { name: 'm', sha256: 'x' }, source: 'test' });
    door.update(label, 1);
  };
  const stay = (label: Label) => door.update(label, 1);
  const leave = () => door.update(null, 0);
  return { clock, gpio, lights, door, states, decide, stay, leave };
}

test('config maps to lines and patterns', () => {
  const o = lightsOptionsFromConfig(defaults);
  assert.deepEqual(o.lines, { green: 17, red: 27, amber: 22, buzzer: 18 });
  assert.deepEqual(o.patterns, { mask: [], no_mask: [1000], mask_incorrect: [150, 100, 150] });
  assert.deepEqual(parsePattern('150,100,150'), [150, 100, 150]);
});

test('a no_mask decision: red on alone, buzzer 1000 ms once, off holdMs after nobody is in view', async () => {
  const { clock, gpio, lights, decide, stay, leave } = await started();
  assert.deepEqual(gpio.opened, { green: 17, red: 27, amber: 22, buzzer: 18 });
  clock.advance(50);
  decide('no_mask');
  assert.deepEqual(gpio.on().sort(), ['buzzer', 'red']);
  clock.advance(999);
  assert.ok(gpio.state.get('buzzer'));
  clock.advance(1);
  assert.deepEqual(gpio.on(), ['red']);
  stay('no_mask'); // the same person still in view: no second buzz
  leave();
  clock.advance(HOLD_MS - 1);
  assert.deepEqual(gpio.on(), ['red']);
  assert.equal(lights.light, 'red');
  clock.advance(1);
  assert.deepEqual(gpio.on(), []);
  assert.deepEqual(gpio.of('buzzer'), [
    [50, true],
    [1050, false],
  ]);
  assert.deepEqual(gpio.of('red'), [
    [50, true],
    [1050 + HOLD_MS, false],
  ]);
});

test('one light at a time; a new person within the hold time cancels the hold', async () => {
  const { clock, gpio, decide, stay, leave } = await started();
  decide('mask');
  assert.deepEqual(gpio.on(), ['green'], 'mask is silent by default');
  leave();
  clock.advance(1000);
  decide('mask_incorrect');
  assert.deepEqual(gpio.on().sort(), ['amber', 'buzzer']);
  clock.advance(5000);
  stay('mask_incorrect');
  assert.deepEqual(gpio.on(), ['amber'], 'held while someone is in view');
  // the pattern: on 150, off 100, on 150
  assert.deepEqual(gpio.of('buzzer'), [
    [1000, true],
    [1150, false],
    [1250, true],
    [1400, false],
  ]);
  assert.ok(gpio.of('green').some(([t, on]) => t === 1000 && !on), 'green went off when amber came on');
});

test('the pattern plays once per decided person, also for a new person while the light is held', async () => {
  const { clock, gpio, decide, stay, leave } = await started();
  decide('no_mask');
  clock.advance(1500);
  stay('no_mask');
  clock.advance(100);
  leave();
  clock.advance(100);
  decide('no_mask'); // a new person while the light is still held
  clock.advance(1500);
  assert.equal(gpio.of('buzzer').filter(([, on]) => on).length, 2);
  assert.equal(gpio.of('red').length, 1, 'red stayed on throughout');
});

test('the door state is handed on only when it changes, and it is what the LEDs show', async () => {
  const { clock, gpio, states, decide, stay, leave } = await started();
  decide('mask');
  stay('mask');
  stay('mask');
  leave();
  clock.advance(HOLD_MS);
  assert.deepEqual(states, [
    { light: 'green', label: 'mask', peopleInView: 1 },
    { light: 'green', label: 'mask', peopleInView: 0 },
    { light: 'off', label: null, peopleInView: 0 },
  ]);
  assert.deepEqual(gpio.on(), []);
});

test('quiet hours silence the buzzer only, also across midnight', async () => {
  const late = new Date(2026, 0, 1, 23, 30).getTime();
  const { clock, gpio, decide } = await started({ quietStart: '22:00', quietEnd: '07:00' }, late);
  decide('no_mask');
  clock.advance(2000);
  assert.deepEqual(gpio.on(), ['red']);
  assert.equal(gpio.of('buzzer').length, 0);
  assert.ok(inQuietHours(new Date(2026, 0, 2, 6, 59), '22:00', '07:00'));
  assert.ok(!inQuietHours(new Date(2026, 0, 2, 7, 0), '22:00', '07:00'));
  assert.ok(inQuietHours(new Date(2026, 0, 2, 12, 30), '12:00', '13:00'));
  assert.ok(!inQuietHours(new Date(2026, 0, 2, 13, 0), '12:00', '13:00'));
  assert.ok(!inQuietHours(new Date(2026, 0, 2, 3, 0), '', '07:00'));
  // 7.5 hours later it is 07:00: the buzzer sounds again
  clock.advance(7.5 * 3600_000);
  decide('mask_incorrect');
  assert.equal(gpio.of('buzzer').filter(([, on]) => on).length, 1);
});

test('mute silences the buzzer (and a running pattern) for ms; mute(0) un-mutes', async () => {
  const { clock, gpio, lights, decide } = await started();
  decide('no_mask');
  clock.advance(200);
  lights.mute(60_000);
  assert.deepEqual(gpio.on(), ['red'], 'running pattern stopped');
  decide('mask_incorrect');
  assert.deepEqual(gpio.on(), ['amber']);
  clock.advance(60_000);
  decide('no_mask');
  assert.ok(gpio.state.get('buzzer'), 'mute expired');
  lights.mute(10_000);
  lights.mute(0);
  decide('mask_incorrect');
  assert.ok(gpio.state.get('buzzer'));
});

test('lamp test: each light ~300 ms in turn with a chirp, then back to what is shown', async () => {
  const { clock, gpio, decide } = await started({ lampTest: true });
  // start() began the lamp test
  await Promise.resolve();
  assert.deepEqual(gpio.on().sort(), ['buzzer', 'green']);
  clock.advance(100);
  decide('no_mask'); // arrives during the test: its buzzer at once, its light after the test
  assert.ok(!gpio.state.get('red'));
  clock.advance(200);
  await new Promise((r) => setImmediate(r));
  for (let i = 0; i < 2; i++) {
    clock.advance(300);
    await new Promise((r) => setImmediate(r));
  }
  assert.deepEqual(gpio.of('green').slice(0, 2), [
    [0, true],
    [300, false],
  ]);
  assert.deepEqual(gpio.of('amber'), [
    [300, true],
    [600, false],
  ]);
  assert.deepEqual(gpio.of('red'), [
    [600, true],
    [900, false],
    [900, true],
  ]);
  assert.deepEqual(gpio.of('buzzer'), [
    [0, true],
    [80, false],
    [100, true],
  ]);
  clock.advance(200);
  assert.deepEqual(gpio.on(), ['red'], 'after the test: the shown label');
});

test('lamp test in quiet hours: lights only', async () => {
  const { clock, gpio, lights } = await started({ quietStart: '09:00', quietEnd: '11:00' });
  const done = lights.lampTest();
  for (let i = 0; i < 3; i++) {
    clock.advance(300);
    await new Promise((r) => setImmediate(r));
  }
  await done;
  assert.equal(gpio.of('buzzer').length, 0);
  assert.equal(gpio.events.filter((e) => e.on).length, 3);
  assert.deepEqual(gpio.on(), []);
});

test('stop() turns every line off and closes the driver, also mid-pattern and mid-test', async () => {
  const { clock, gpio, lights, decide } = await started({ lampTest: true });
  decide('no_mask');
  clock.advance(100);
  await lights.stop();
  assert.deepEqual(gpio.on(), []);
  assert.ok(gpio.closed);
  clock.advance(5000);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(gpio.on(), [], 'no timer turns anything back on');
  decide('mask');
  assert.deepEqual(gpio.on(), []);
});

test('no buzzer line: patterns are skipped, lights work', async () => {
  const { clock, gpio, decide } = await started({ lines: { green: 5, red: 6, amber: 13, buzzer: null } });
  assert.deepEqual(gpio.opened, { green: 5, red: 6, amber: 13 });
  decide('no_mask');
  clock.advance(2000);
  assert.deepEqual(gpio.on(), ['red']);
});
