/**
 * Home Assistant's documented MQTT discovery schema, as rules a test can check a config message against.
 * Written from Home Assistant's docs (home-assistant.io): integrations/mqtt ("Discovery topic", "Discovery payload",
 * origin), event.mqtt, sensor.mqtt, switch.mqtt, button.mqtt (their configuration variables: required keys, keys allowed,
 * the availability and device maps), and integrations/sensor (device classes and their units). Where a component doc
 * lists `platform` it is "only allowed and required in device discovery messages"; these are single-component
 * messages, so it is refused here. Unknown keys are ignored by Home Assistant, which hides typos: they are errors here.
 */

const TOPIC_LEVEL_ID = /^[a-zA-Z0-9_-]+$/;

/** Keys every entity component documents (availability, device, naming, attributes). */
const COMMON = [
  'availability', 'availability_mode', 'availability_template', 'availability_topic', 'device', 'enabled_by_default', 'encoding',
  'entity_category', 'entity_picture', 'icon', 'json_attributes_template', 'json_attributes_topic', 'name', 'object_id',
  'default_entity_id', 'origin', 'payload_available', 'payload_not_available', 'qos', 'unique_id',
];

interface ComponentRules {
  required: string[];
  allowed: string[];
  deviceClasses: string[];
  entityCategories: string[];
}

export const COMPONENTS: Record<'event' | 'sensor' | 'switch' | 'button', ComponentRules> = {
  event: { required: ['state_topic', 'event_types'], allowed: ['device_class', 'event_types', 'state_topic', 'value_template'], deviceClasses: ['doorbell', 'button', 'motion'], entityCategories: ['config', 'diagnostic'] },
  sensor: {
    required: ['state_topic'],
    allowed: ['device_class', 'expire_after', 'force_update', 'last_reset_value_template', 'options', 'suggested_display_precision', 'state_class', 'state_topic', 'unit_of_measurement', 'value_template'],
    deviceClasses: [
      'apparent_power', 'aqi', 'area', 'atmospheric_pressure', 'battery', 'blood_glucose_concentration', 'carbon_dioxide', 'carbon_monoxide', 'current',
      'data_rate', 'data_size', 'date', 'distance', 'duration', 'energy', 'energy_storage', 'enum', 'frequency', 'gas', 'humidity', 'illuminance',
      'irradiance', 'moisture', 'monetary', 'nitrogen_dioxide', 'nitrogen_monoxide', 'nitrous_oxide', 'ozone', 'ph', 'pm1', 'pm25', 'pm10', 'power_factor',
      'power', 'precipitation', 'precipitation_intensity', 'pressure', 'reactive_power', 'signal_strength', 'sound_pressure', 'speed', 'sulphur_dioxide',
      'temperature', 'timestamp', 'volatile_organic_compounds', 'volatile_organic_compounds_parts', 'voltage', 'volume', 'volume_flow_rate',
      'volume_storage', 'water', 'weight', 'wind_speed',
    ],
    // sensor.mqtt: "When set, the entity category must be diagnostic for sensors."
    entityCategories: ['diagnostic'],
  },
  switch: {
    required: ['command_topic'],
    allowed: ['command_template', 'command_topic', 'device_class', 'optimistic', 'payload_off', 'payload_on', 'retain', 'state_off', 'state_on', 'state_topic', 'value_template'],
    deviceClasses: ['outlet', 'switch'],
    entityCategories: ['config', 'diagnostic'],
  },
  button: { required: ['command_topic'], allowed: ['command_template', 'command_topic', 'device_class', 'payload_press', 'retain'], deviceClasses: ['identify', 'restart', 'update'], entityCategories: ['config', 'diagnostic'] },
};

/** integrations/sensor: the units each device class takes (the classes this project may use). */
export const SENSOR_UNITS: Record<string, string[]> = {
  temperature: ['°C', '°F', 'K'],
  duration: ['d', 'h', 'min', 's', 'ms'],
  data_size: ['bit', 'kbit', 'Mbit', 'Gbit', 'B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB', 'ZiB', 'YiB'],
  data_rate: ['bit/s', 'kbit/s', 'Mbit/s', 'Gbit/s', 'B/s', 'kB/s', 'MB/s', 'GB/s', 'KiB/s', 'MiB/s', 'GiB/s'],
  frequency: ['Hz', 'kHz', 'MHz', 'GHz'],
  battery: ['%'],
  humidity: ['%'],
};
const STATE_CLASSES = ['measurement', 'total', 'total_increasing'];
const DEVICE_KEYS = ['configuration_url', 'connections', 'hw_version', 'identifiers', 'manufacturer', 'model', 'model_id', 'name', 'serial_number', 'suggested_area', 'sw_version', 'via_device'];
const ORIGIN_KEYS = ['name', 'sw_version', 'support_url'];
const AVAILABILITY_KEYS = ['payload_available', 'payload_not_available', 'topic', 'value_template'];

export interface ParsedTopic {
  prefix: string;
  component: string;
  nodeId: string | null;
  objectId: string;
}

/** `<discovery_prefix>/<component>/[<node_id>/]<object_id>/config`, ids of [a-zA-Z0-9_-]. */
export function parseDiscoveryTopic(topic: string, prefix: string): ParsedTopic | string {
  if (!topic.startsWith(`${prefix}/`) || !topic.endsWith('/config')) return `topic ${topic} is not <${prefix}>/…/config`;
  const parts = topic.slice(prefix.length + 1, -'/config'.length).split('/');
  if (parts.length < 2 || parts.length > 3) return `topic ${topic}: expected <component>/[<node_id>/]<object_id>`;
  const [component, ...ids] = parts as [string, ...string[]];
  if (!(component in COMPONENTS)) return `topic ${topic}: component ${component} is not one this checker knows`;
  for (const id of ids) if (!TOPIC_LEVEL_ID.test(id)) return `topic ${topic}: '${id}' has characters outside [a-zA-Z0-9_-]`;
  return { prefix, component, nodeId: ids.length === 2 ? ids[0]! : null, objectId: ids.at(-1)! };
}

const isString = (v: unknown): v is string => typeof v === 'string' && v.length > 0;
const isStringList = (v: unknown): v is string[] => Array.isArray(v) && v.length > 0 && v.every(isString);
/** A topic Home Assistant publishes to or subscribes on: no wildcards here (we name exact topics), no empty levels. */
const badTopic = (v: unknown) => !isString(v) || /[+#\u0000]/.test(v) || v.split('/').some((l) => l === '');

/** Every way the config message breaks Home Assistant's documented schema for its component; [] when it is valid. */
export function schemaProblems(topic: string, payload: string, prefix = 'homeassistant'): string[] {
  const parsed = parseDiscoveryTopic(topic, prefix);
  if (typeof parsed === 'string') return [parsed];
  const p: string[] = [];
  const at = (msg: string) => p.push(`${topic}: ${msg}`);
  let c: Record<string, unknown>;
  try {
    c = JSON.parse(payload) as Record<string, unknown>;
  } catch {
    return [`${topic}: payload is not JSON`];
  }
  if (typeof c !== 'object' || c === null || Array.isArray(c)) return [`${topic}: payload must be a JSON object`];
  const rules = COMPONENTS[parsed.component as keyof typeof COMPONENTS];
  for (const k of rules.required) if (!(k in c)) at(`required key ${k} missing`);
  for (const k of Object.keys(c)) if (!COMMON.includes(k) && !rules.allowed.includes(k)) at(`key ${k} is not in the ${parsed.component} schema`);
  if ('platform' in c) at('platform is only for device discovery messages');

  for (const k of Object.keys(c)) if (k.endsWith('_topic') && badTopic(c[k])) at(`${k} ${JSON.stringify(c[k])} is not a topic`);
  if ('qos' in c && ![0, 1, 2].includes(c.qos as number)) at('qos must be 0, 1 or 2');
  if ('availability' in c && 'availability_topic' in c) at('availability and availability_topic must not be used together');
  if ('availability' in c) {
    const list = c.availability;
    if (!Array.isArray(list) || list.length === 0) at('availability must be a non-empty list');
    else
      for (const a of list as Array<Record<string, unknown>>) {
        if (badTopic(a.topic)) at('availability entry needs a topic');
        for (const k of Object.keys(a)) if (!AVAILABILITY_KEYS.includes(k)) at(`availability key ${k} unknown`);
      }
  }
  if ('availability_mode' in c && !['all', 'any', 'latest'].includes(c.availability_mode as string)) at('availability_mode must be all, any or latest');
  if ('entity_category' in c && !rules.entityCategories.includes(c.entity_category as string)) at(`entity_category ${String(c.entity_category)} not allowed for ${parsed.component} (${rules.entityCategories.join(', ')})`);
  if ('device_class' in c && c.device_class !== null && !rules.deviceClasses.includes(c.device_class as string)) at(`device_class ${String(c.device_class)} is not a ${parsed.component} device class`);
  if ('enabled_by_default' in c && typeof c.enabled_by_default !== 'boolean') at('enabled_by_default must be a boolean');
  if ('name' in c && c.name !== null && !isString(c.name)) at('name must be a string or null');
  if ('icon' in c && !/^mdi:[a-z0-9-]+$/.test(String(c.icon))) at(`icon ${String(c.icon)} is not mdi:<name>`);
  for (const k of Object.keys(c)) if ((k.endsWith('_template') || k === 'value_template') && !isString(c[k])) at(`${k} must be a template string`);

  // The device registry: "Only works when unique_id is set. At least one of identifiers or connections must be present."
  if ('device' in c) {
    const d = c.device as Record<string, unknown>;
    if (!isString(c.unique_id)) at('device needs unique_id');
    if (typeof d !== 'object' || d === null) at('device must be a map');
    else {
      for (const k of Object.keys(d)) if (!DEVICE_KEYS.includes(k)) at(`device key ${k} unknown`);
      if (!('identifiers' in d) && !('connections' in d)) at('device needs identifiers or connections');
      if ('identifiers' in d && !isString(d.identifiers) && !isStringList(d.identifiers)) at('device.identifiers must be a string or a list of strings');
      for (const k of ['name', 'manufacturer', 'model', 'model_id', 'sw_version', 'hw_version', 'serial_number', 'suggested_area', 'via_device']) if (k in d && !isString(d[k])) at(`device.${k} must be a string`);
      if ('configuration_url' in d && !/^(https?|homeassistant):\/\/\S+$/.test(String(d.configuration_url))) at('device.configuration_url must be an http://, https:// or homeassistant:// URL');
    }
  }
  if ('origin' in c) {
    const o = c.origin as Record<string, unknown>;
    if (!isString(o?.name)) at('origin.name is required');
    for (const k of Object.keys(o ?? {})) if (!ORIGIN_KEYS.includes(k)) at(`origin key ${k} unknown`);
  }
  if ('default_entity_id' in c && !String(c.default_entity_id).startsWith(`${parsed.component}.`)) at(`default_entity_id must start with ${parsed.component}.`);

  if (parsed.component === 'event' && !isStringList(c.event_types)) at('event_types must be a non-empty list of strings');
  if (parsed.component === 'sensor') {
    // sensor.mqtt: options need device_class enum, are not empty, and exclude state_class and unit_of_measurement.
    if ('options' in c) {
      if (c.device_class !== 'enum') at('options need device_class enum');
      if (!isStringList(c.options)) at('options must be a non-empty list of strings');
      if ('state_class' in c || 'unit_of_measurement' in c) at('options cannot be used with state_class or unit_of_measurement');
    }
    if (c.device_class === 'enum' && !('options' in c)) at('device_class enum without options');
    if ('state_class' in c && !STATE_CLASSES.includes(c.state_class as string)) at(`state_class ${String(c.state_class)} unknown`);
    const units = SENSOR_UNITS[c.device_class as string];
    if (units && !units.includes(c.unit_of_measurement as string)) at(`device_class ${String(c.device_class)} needs a unit of ${units.join(', ')}, not ${String(c.unit_of_measurement)}`);
    if ('unit_of_measurement' in c && !isString(c.unit_of_measurement)) at('unit_of_measurement must be a string');
  }
  if ((parsed.component === 'switch' || parsed.component === 'button') && c.retain === true) at('a command must not be retained');
  return p;
}
