/**
 * A small typed event bus between the pipeline and its outputs (Zigbee2MQTT's eventBus, typed): emit() calls every
 * listener of the event synchronously, in subscription order; a listener that throws is logged (once per listener
 * and event name until it succeeds again) and does not stop the others.
 */
import { createLogger, errorMessage } from './log.js';

const log = createLogger('bus');

type Listener<T> = (payload: T) => void;

export class EventBus<Events extends Record<string, unknown>> {
  private readonly listeners = new Map<keyof Events, Array<{ fn: Listener<never>; owner: string; failing: boolean }>>();

  /** Subscribes; returns the function that unsubscribes. `owner` names the subscriber in error lines. */
  on<K extends keyof Events>(name: K, owner: string, fn: Listener<Events[K]>): () => void {
    const list = this.listeners.get(name) ?? [];
    const entry = { fn: fn as Listener<never>, owner, failing: false };
    list.push(entry);
    this.listeners.set(name, list);
    return () => {
      const current = this.listeners.get(name) ?? [];
      this.listeners.set(name, current.filter((e) => e !== entry));
    };
  }

  emit<K extends keyof Events>(name: K, payload: Events[K]): void {
    for (const entry of [...(this.listeners.get(name) ?? [])]) {
      try {
        (entry.fn as Listener<Events[K]>)(payload);
        entry.failing = false;
      } catch (err) {
        if (!entry.failing) log.error(`${entry.owner} failed on ${String(name)}: ${errorMessage(err)}`);
        entry.failing = true;
      }
    }
  }

  listenerCount(name: keyof Events): number {
    return this.listeners.get(name)?.length ?? 0;
  }
}
