/**
 * Moves events from the durable outbox to the broker: in seq order, at most inFlightMax unacknowledged at a time,
 * each one leaving the outbox only on the broker's PUBACK (a failed publish goes back to wait for the next connection).
 */
import { createLogger, errorMessage } from '../core/log.js';
import type { MqttConnection } from './mqtt-connection.js';
import type { Outbox } from './outbox.js';

const log = createLogger('mqtt');

export class OutboxRelay {
  private ackFailureLogged = false;

  constructor(
    private readonly outbox: Outbox,
    private readonly connection: MqttConnection,
    private readonly topic: string,
    private readonly inFlightMax = 16,
  ) {}

  /** Hands waiting events to the connection; call after an event was added and on every (re)connection. */
  drain(): void {
    if (!this.connection.connected) return;
    const room = this.inFlightMax - this.outbox.inFlightCount();
    if (room <= 0) return;
    for (const entry of this.outbox.take(room)) {
      const sent = this.connection.publish(this.topic, entry.payload, { qos: 1, retain: false }, (err) => {
        if (err) {
          this.outbox.release(entry.seq);
          return;
        }
        this.acknowledged(entry.seq);
        this.drain();
      });
      if (!sent) this.outbox.release(entry.seq);
    }
  }

  /** Runs inside MQTT.js's PUBACK callback: nothing may throw from here. */
  private acknowledged(seq: number): void {
    try {
      this.outbox.ack(seq);
      this.ackFailureLogged = false;
    } catch (err) {
      if (!this.ackFailureLogged) log.error(`event ${seq} was delivered but the outbox cannot forget it: ${errorMessage(err)}`);
      this.ackFailureLogged = true;
    }
  }
}
