/**
 * Home Assistant MQTT discovery: one retained config message per entity under
 * `<discoveryPrefix>/<component>/maskwatch_<deviceId>/<object>/config` (single-component discovery, read by every
 * Home Assistant since 2021). Each config follows the documented schema of its component (event, sensor, switch,
 * button); test/helpers/ha-discovery-schema.ts checks them against those rules.
 */
import { systemClock, type Clock, type TimerHandle } from '../core/clock.js';
import { LIGHT_FOR } from '../core/labels.js';
import type { DaemonState } from '../core/seams.js';
import { LABELS } from '../core/types.js';
import type { MqttConnection } from './mqtt-connection.js';
import { SOURCE_STATES, type StatsPayload, type Topics } from './topics.js';

export interface DiscoveryMessage {
  topic: string;
  /** JSON config; '' removes the entity (retained empty message). */
  payload: string;
}

export interface DiscoveryOptions {
  discoveryPrefix: string;
  deviceId: string;
  topics: Topics;
  swVersion: string;
  /** The classifier's name, shown in the device model when known. */
  modelName?: string;
  /** The stats topic is published (mqtt.statsIntervalS > 0): announce its diagnostic sensors. Default true. */
  stats?: boolean;
  /** A web page that manages the device, where there is one (http://, https:// or homeassistant://). maskwatch has no web UI: none by default. */
  configurationUrl?: string;
}

export type Component = 'event' | 'sensor' | 'switch' | 'button';
type Entity = { component: Component; object: string; config: Record<string, unknown> };

const LABEL_NAMES: Record<(typeof LABELS)[number], string> = { mask: 'Masked', no_mask: 'Unmasked', mask_incorrect: 'Mask worn incorrectly' };

/** The states of the `state` topic's `light`, in label order, then off. */
export const LIGHT_OPTIONS: ReadonlyArray<DaemonState['light']> = [...LABELS.map((l) => LIGHT_FOR[l]), 'off'];

/** Entities an earlier version announced and this one does not: cleared on every announce so they leave Home Assistant. */
const RETIRED: ReadonlyArray<Pick<Entity, 'component' | 'object'>> = [
  // replaced by the `person` event entity: it fell back to `none` within seconds and missed two people with one label
  { component: 'sensor', object: 'last_label' },
];

type StatsSensor = [object: string, name: string, key: keyof StatsPayload, extra: Record<string, unknown>];
const measurement = { state_class: 'measurement' };
/** The stats topic's numbers as diagnostic sensors: units and device classes as Home Assistant's sensor docs list them. */
const STATS_SENSORS: StatsSensor[] = [
  ['fps_in', 'Frames in', 'framesInPerS', { ...measurement, unit_of_measurement: 'fps', icon: 'mdi:camera-burst' }],
  ['fps_processed', 'Frames processed', 'framesProcessedPerS', { ...measurement, unit_of_measurement: 'fps', icon: 'mdi:speedometer' }],
  ['dropped_frames', 'Dropped frames', 'droppedFrames', { state_class: 'total_increasing', icon: 'mdi:image-off' }],
  ['latency_p50', 'Latency p50', 'latencyP50Ms', { ...measurement, device_class: 'duration', unit_of_measurement: 'ms' }],
  ['latency_p95', 'Latency p95', 'latencyP95Ms', { ...measurement, device_class: 'duration', unit_of_measurement: 'ms' }],
  ['outbox_depth', 'Outbox depth', 'outboxDepth', { ...measurement, icon: 'mdi:tray-full' }],
  ['cpu_temperature', 'CPU temperature', 'cpuTempC', { ...measurement, device_class: 'temperature', unit_of_measurement: '°C' }],
  // rssMb is rss / 2^20
  ['memory', 'Memory (RSS)', 'rssMb', { ...measurement, device_class: 'data_size', unit_of_measurement: 'MiB', icon: 'mdi:memory' }],
  // restarts at 0 with the daemon: total_increasing takes a drop as a reset
  ['uptime', 'Uptime', 'uptimeS', { state_class: 'total_increasing', device_class: 'duration', unit_of_measurement: 's' }],
];

function entities(t: Topics, stats: boolean): Entity[] {
  const state = t.topic('state');
  const counts = t.topic('counts');
  const list: Entity[] = [
    // The event topic's payload carries event_type (the label); its other fields (score, trackId, source, …) become attributes.
    { component: 'event', object: 'person', config: { name: 'Person', state_topic: t.topic('event'), event_types: [...LABELS], icon: 'mdi:face-mask' } },
    { component: 'sensor', object: 'light', config: { name: 'Light', state_topic: state, value_template: '{{ value_json.light }}', device_class: 'enum', options: [...LIGHT_OPTIONS], icon: 'mdi:traffic-light' } },
    { component: 'sensor', object: 'people_in_view', config: { name: 'People in view', state_topic: state, value_template: '{{ value_json.peopleInView }}', state_class: 'measurement', icon: 'mdi:account-group' } },
    ...LABELS.map(
      (label): Entity => ({
        component: 'sensor',
        object: `count_${label}`,
        config: { name: `${LABEL_NAMES[label]} count`, state_topic: counts, value_template: `{{ value_json.${label} }}`, state_class: 'total_increasing', icon: 'mdi:counter' },
      }),
    ),
    { component: 'sensor', object: 'camera', config: { name: 'Camera', state_topic: t.topic('camera'), value_template: '{{ value_json.state }}', device_class: 'enum', options: [...SOURCE_STATES], entity_category: 'diagnostic', icon: 'mdi:cctv' } },
    {
      component: 'switch',
      object: 'mute',
      // on: {} mutes for the command's default time; off: 0 un-mutes. The retained mute topic says what is true.
      config: { name: 'Buzzer mute', command_topic: t.command('mute'), payload_on: '{}', payload_off: '{"minutes": 0}', state_topic: t.topic('mute'), value_template: "{{ 'ON' if value_json.muted else 'OFF' }}", state_on: 'ON', state_off: 'OFF', icon: 'mdi:volume-off' },
    },
    { component: 'button', object: 'lamp_test', config: { name: 'Lamp test', command_topic: t.command('lamp-test'), payload_press: '{}', icon: 'mdi:lightbulb-on' } },
    { component: 'button', object: 'reload_model', config: { name: 'Reload model', command_topic: t.command('reload-model'), payload_press: '{}', entity_category: 'config', icon: 'mdi:reload' } },
  ];
  if (stats) {
    for (const [object, name, key, extra] of STATS_SENSORS)
      list.push({ component: 'sensor', object, config: { name, state_topic: t.topic('stats'), value_template: `{{ value_json.${key} }}`, entity_category: 'diagnostic', ...extra } });
  }
  return list;
}

function configTopic(o: DiscoveryOptions, e: Pick<Entity, 'component' | 'object'>): string {
  return `${o.discoveryPrefix}/${e.component}/maskwatch_${o.deviceId}/${e.object}/config`;
}

/** The retained config messages that announce the device's entities. */
export function discoveryMessages(o: DiscoveryOptions): DiscoveryMessage[] {
  const nodeId = `maskwatch_${o.deviceId}`;
  const device = {
    identifiers: [nodeId],
    name: `maskwatch ${o.deviceId}`,
    manufacturer: 'maskwatch',
    model: o.modelName ? `maskwatch (${o.modelName})` : 'maskwatch',
    sw_version: o.swVersion,
    ...(o.configurationUrl ? { configuration_url: o.configurationUrl } : {}),
  };
  const origin = { name: 'maskwatch', sw_version: o.swVersion };
  return entities(o.topics, o.stats ?? true).map((e) => ({
    topic: configTopic(o, e),
    payload: JSON.stringify({
      ...e.config,
      unique_id: `${nodeId}_${e.object}`,
      default_entity_id: `${e.component}.${nodeId}_${e.object}`,
      availability: [{ topic: o.topics.topic('availability'), payload_available: 'online', payload_not_available: 'offline' }],
      device,
      origin,
    }),
  }));
}

/** Empty retained messages for every entity this version may announce, and the retired ones: Home Assistant removes them. */
export function discoveryRemovals(o: DiscoveryOptions): DiscoveryMessage[] {
  return [...entities(o.topics, true), ...RETIRED].map((e) => ({ topic: configTopic(o, e), payload: '' }));
}

/** What one announce publishes: the configs, and removals for entities not announced (retired, or stats turned off). */
export function announceMessages(o: DiscoveryOptions): DiscoveryMessage[] {
  const configs = discoveryMessages(o);
  const announced = new Set(configs.map((m) => m.topic));
  return [...configs, ...discoveryRemovals(o).filter((m) => !announced.has(m.topic))];
}

/** Home Assistant's `online` re-announces at most this often; anyone allowed to publish it could otherwise flood the broker. */
export const STATUS_ANNOUNCE_MIN_MS = 10_000;

/**
 * Announces the entities on every connection, and again when Home Assistant says it is back (`<prefix>/status`
 * `online`): at once, then at most once per STATUS_ANNOUNCE_MIN_MS (an `online` inside that window is answered once,
 * at its end). With discovery turned off it clears what an earlier run announced.
 */
export class HaDiscovery {
  private lastStatusAnnounce = -Infinity;
  private pending: TimerHandle | null = null;

  constructor(
    private readonly connection: MqttConnection,
    private readonly opts: DiscoveryOptions & { enabled: boolean },
    private readonly clock: Clock = systemClock,
  ) {}

  private get statusTopic(): string {
    return `${this.opts.discoveryPrefix}/status`;
  }

  start(): void {
    this.connection.onConnect(() => {
      if (this.opts.enabled) this.connection.subscribe(this.statusTopic, { qos: 0 });
      this.announce();
    });
    this.connection.onMessage((topic, payload) => {
      if (this.opts.enabled && topic === this.statusTopic && payload.toString() === 'online') this.statusOnline();
    });
  }

  stop(): void {
    if (this.pending) this.clock.clearTimeout(this.pending);
    this.pending = null;
  }

  private statusOnline(): void {
    if (this.pending) return;
    const wait = this.lastStatusAnnounce + STATUS_ANNOUNCE_MIN_MS - this.clock.now();
    const go = () => {
      this.pending = null;
      this.lastStatusAnnounce = this.clock.now();
      this.announce();
    };
    if (wait <= 0) go();
    else this.pending = this.clock.setTimeout(go, wait);
  }

  private announce(): void {
    for (const msg of this.opts.enabled ? announceMessages(this.opts) : discoveryRemovals(this.opts)) this.connection.publish(msg.topic, msg.payload, { qos: 1, retain: true });
  }
}
