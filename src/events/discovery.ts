/**
 * Home Assistant MQTT discovery: one retained config message per entity under
 * `<discoveryPrefix>/<component>/maskwatch_<deviceId>/<object>/config`.
 */
import { LABELS } from '../core/types.js';
import type { MqttConnection } from './mqtt-connection.js';
import type { Topics } from './topics.js';

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
  /** The classifier's name, shown as the device model when known. */
  modelName?: string;
}

type Entity = { component: 'sensor' | 'button'; object: string; config: Record<string, unknown> };

const LABEL_NAMES: Record<(typeof LABELS)[number], string> = { mask: 'Masked', no_mask: 'Unmasked', mask_incorrect: 'Mask worn incorrectly' };

function entities(t: Topics): Entity[] {
  const state = t.topic('state');
  const counts = t.topic('counts');
  return [
    { component: 'sensor', object: 'last_label', config: { name: 'Last label', state_topic: state, value_template: "{{ value_json.label if value_json.label else 'none' }}", icon: 'mdi:face-mask' } },
    { component: 'sensor', object: 'people_in_view', config: { name: 'People in view', state_topic: state, value_template: '{{ value_json.peopleInView }}', state_class: 'measurement', icon: 'mdi:account-group' } },
    ...LABELS.map(
      (label): Entity => ({
        component: 'sensor',
        object: `count_${label}`,
        config: { name: `${LABEL_NAMES[label]} count`, state_topic: counts, value_template: `{{ value_json.${label} }}`, state_class: 'total_increasing', icon: 'mdi:counter' },
      }),
    ),
    { component: 'sensor', object: 'camera', config: { name: 'Camera', state_topic: t.topic('camera'), value_template: '{{ value_json.state }}', entity_category: 'diagnostic', icon: 'mdi:cctv' } },
    { component: 'button', object: 'lamp_test', config: { name: 'Lamp test', command_topic: t.command('lamp-test'), payload_press: '{}', icon: 'mdi:lightbulb-on' } },
    { component: 'button', object: 'reload_model', config: { name: 'Reload model', command_topic: t.command('reload-model'), payload_press: '{}', entity_category: 'config', icon: 'mdi:reload' } },
  ];
}

function configTopic(o: DiscoveryOptions, e: Entity): string {
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
  };
  return entities(o.topics).map((e) => ({
    topic: configTopic(o, e),
    payload: JSON.stringify({
      ...e.config,
      unique_id: `${nodeId}_${e.object}`,
      default_entity_id: `${e.component}.${nodeId}_${e.object}`,
      availability: [{ topic: o.topics.topic('availability'), payload_available: 'online', payload_not_available: 'offline' }],
      device,
    }),
  }));
}

/** Empty retained messages on the same topics: Home Assistant removes the entities. */
export function discoveryRemovals(o: DiscoveryOptions): DiscoveryMessage[] {
  return entities(o.topics).map((e) => ({ topic: configTopic(o, e), payload: '' }));
}

/**
 * Announces the entities on every connection, and again when Home Assistant says it is back (`<prefix>/status`
 * `online`). With discovery turned off it clears what an earlier run announced.
 */
export class HaDiscovery {
  constructor(
    private readonly connection: MqttConnection,
    private readonly opts: DiscoveryOptions & { enabled: boolean },
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
      if (this.opts.enabled && topic === this.statusTopic && payload.toString() === 'online') this.announce();
    });
  }

  private announce(): void {
    for (const msg of this.opts.enabled ? discoveryMessages(this.opts) : discoveryRemovals(this.opts)) this.connection.publish(msg.topic, msg.payload, { qos: 1, retain: true });
  }
}
