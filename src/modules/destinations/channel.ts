import type { TSchema } from 'typebox';
import type { Mailer } from '../../delivery/email.ts';
import type { DeliveryContext, DeliveryFile, DeliveryReceipt, SendOptions } from '../../delivery/types.ts';

// What the destinations and deliveries modules need of a delivery channel
// (channels.ts adapts each of src/delivery/* to this).

export const destinationTypes = ['email', 'slack', 'webhook', 's3', 'sftp', 'teams'] as const;
export type DestinationType = (typeof destinationTypes)[number];

export type Settings = Record<string, unknown>;
export type Secrets = Record<string, unknown>;

export interface ChannelEnv {
  /** The instance's mailer (e-mail). */
  mailer: Mailer;
  send: SendOptions;
}

export interface Channel {
  type: DestinationType;
  /** Public settings (shown to every reader), checked when saved. */
  settings: TSchema;
  /** Secret settings (write-only, sealed at rest), checked when saved. */
  secrets: TSchema;
  /** Secret fields that must be set for the destination to work. */
  requiredSecrets: readonly string[];
  /**
   * Where it sends, as one string: changing it (another host, bucket or URL)
   * requires the secrets again, so a stored credential never goes to a new place.
   */
  target(settings: Settings, secrets: Secrets | null): string;
  /** Who receives, for the tenant's allow-lists: e-mail addresses and HTTP hosts. */
  recipients(settings: Settings, secrets: Secrets | null): { emails: string[]; hosts: string[] };
  /** Checks that need more than the schema (templates, URL rules); throws Invalid naming the field. */
  check?(settings: Settings, secrets: Secrets | null, env: ChannelEnv): Promise<void> | void;
  /** Whether it can also tell that a run failed (webhook events, chat messages), not only deliver a file. */
  notifiesFailures(settings: Settings): boolean;
  send(
    settings: Settings,
    secrets: Secrets,
    file: DeliveryFile | null,
    ctx: DeliveryContext,
    env: ChannelEnv,
  ): Promise<DeliveryReceipt>;
  /** A real test message or file ("Send test"). */
  test(settings: Settings, secrets: Secrets, env: ChannelEnv): Promise<DeliveryReceipt>;
}
