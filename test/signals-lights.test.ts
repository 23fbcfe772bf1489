import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../src/core/clock.js';
import { inQuietHours, Lights, lightsOptionsFromConfig, parsePattern, type LightsOptions } from '../src/signals/lights.js';
import { FakeGpio } from './helpers/fake-gpio.js';
import { schema, type MaskwatchConfig } from '../src/config/schema.js';
import convict from 'convict';

const defaults = convict<MaskwatchConfig>(schema as unknown as convict.Schema<MaskwatchConfig>, { env: {} }).getProperties().signals;

function options(over: Partial<LightsOptions> = {}): LightsOptions {
  return { ...lightsOptionsFromConfig({ ...defaults, lampTest: false }), ...over };
}

/** Local 10:00 on 1 Jan 2026, whatever the machine's time zone. */
const TEN_AM = new Date(2026, 0, 1, 10, 0).getTime();

async function started(over: Partial<LightsOptions> = {}, epoch = TEN_AM) {
  const clock = new ManualClock(epoch);
  const gpio = new FakeGpio(clock);
  const lights = new Lights(gpio, options(over), clock);
  await lights.start();
  return { clock, gpio, lights };
}

test('config maps to lines and patterns', () => {
  const o = lightsOptionsFromConfig(defaults);
  assert.deepEqual(o.lines, { green: 17, red: 27, amber: 22, buzzer: 18 });
  assert.deepEqual(o.patterns, { mask: [], no_mask: [1000], mask_incorrect: [150, 100, 150] });
  assert.deepEqual(parsePattern('150,100,150'), [150, 100, 150]);
});

test('a no_mask decision: red on alone, buzzer 1000 ms once, off holdMs after nobody is in view', async () => {
  const { clock, gpio, lights } = await started();
  assert.deepEqual(gpio.opened, { green: 17, red: 27, amber: 22, buzzer: 18 });
  clock.advance(50);
  lights.show('no_mask');
  assert.deepEqual(gpio.on().sort(), ['buzzer', 'red']);
  clock.advance(999);
  assert.ok(gpio.state.get('buzzer'));
  clock.advance(1);
  assert.deepEqual(gpio.on(), ['red']);
  lights.show('no_mask'); // same label again: no second buzz
  lights.show(null);
  clock.advance(2999);
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
    [4050, false],
  ]);
});

test('one light at a time; a new person within the hold time cancels the hold', async () => {
  const { clock, gpio, lights } = await started();
  lights.show('mask');
  assert.deepEqual(gpio.on(), ['green'], 'mask is silent by default');
  lights.show(null);
  clock.advance(1000);
  lights.show('mask_incorrect');
  assert.deepEqual(gpio.on().sort(), ['amber', 'buzzer']);
  clock.advance(5000);
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

test('the pattern plays again only when the label changes to it', async () => {
  const { clock, gpio, lights } = await started();
  lights.show('no_mask');
  clock.advance(1500);
  lights.show('no_mask');
  clock.advance(100);
  lights.show(null);
  clock.advance(100);
  lights.show('no_mask'); // a new person while the light is still held
  clock.advance(1500);
  assert.equal(gpio.of('buzzer').filter(([, on]) => on).length, 2);
  assert.equal(gpio.of('red').length, 1, 'red stayed on throughout');
});

test('quiet hours silence the buzzer only, also across midnight', async () => {
  const late = new Date(2026, 0, 1, 23, 30).getTime();
  const { clock, gpio, lights } = await started({ quietStart: '22:00', quietEnd: '07:00' }, late);
  lights.show('no_mask');
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
  lights.show('mask_incorrect');
  assert.equal(gpio.of('buzzer').filter(([, on]) => on).length, 1);
});

test('mute silences the buzzer (and a running pattern) for ms; mute(0) un-mutes', async () => {
  const { clock, gpio, lights } = await started();
  lights.show('no_mask');
  clock.advance(200);
  lights.mute(60_000);
  assert.deepEqual(gpio.on(), ['red'], 'running pattern stopped');
  lights.show('mask_incorrect');
  assert.deepEqual(gpio.on(), ['amber']);
  clock.advance(60_000);
  lights.show('no_mask');
  assert.ok(gpio.state.get('buzzer'), 'mute expired');
  lights.mute(10_000);
  lights.mute(0);
  lights.show('mask_incorrect');
  assert.ok(gpio.state.get('buzzer'));
});

test('lamp test: each light ~300 ms in turn with a chirp, then back to what is shown', async () => {
  const { clock, gpio, lights } = await started({ lampTest: true });
  // start() began the lamp test
  await Promise.resolve();
  assert.deepEqual(gpio.on().sort(), ['buzzer', 'green']);
  clock.advance(100);
  lights.show('no_mask'); // arrives during the test: its buzzer at once, its light after the test
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
  const { clock, gpio, lights } = await started({ lampTest: true });
  lights.show('no_mask');
  clock.advance(100);
  await lights.stop();
  assert.deepEqual(gpio.on(), []);
  assert.ok(gpio.closed);
  clock.advance(5000);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(gpio.on(), [], 'no timer turns anything back on');
  lights.show('mask');
  assert.deepEqual(gpio.on(), []);
});

test('no buzzer line: patterns are skipped, lights work', async () => {
  const { clock, gpio, lights } = await started({ lines: { green: 5, red: 6, amber: 13, buzzer: null } });
  assert.deepEqual(gpio.opened, { green: 5, red: 6, amber: 13 });
  lights.show('no_mask');
  clock.advance(2000);
  assert.deepEqual(gpio.on(), ['red']);
});
