import { DeliveryError } from '../../delivery/types.ts';
import { checkValue } from '../../lib/check-value.ts';
import { AppError, Conflict, describeError, Invalid, NotFound } from '../../lib/errors.ts';
import { newId } from '../../lib/ids.ts';
import { recordAudit } from '../audit/service.ts';
import type { Principal, RequestOrigin } from '../auth-context.ts';
import type { Deps } from '../deps.ts';
import { type DeliveryPolicy, getDeliveryPolicy, setDeliveryPolicy } from '../tenants/repo.ts';
import type { Channel, ChannelEnv, DestinationType, Secrets, Settings } from './channel.ts';
import { channels } from './channels.ts';
import { type DestinationView, presentDestination } from './present.ts';
import {
  type DestinationRow,
  deleteDestination,
  getDestination,
  getDestinations,
  insertDestination,
  listDestinations,
  recordDestinationTest,
  schedulesUsing,
  updateDestination,
} from './repo.ts';

// Destinations: where a run's file goes. Settings are checked against the type's
// schema and the tenant's allow-lists when saved (and again when sent); secrets
// are write-only, sealed with the row's id as context, and a destination pointed
// somewhere new needs its secrets again.

/** What channels are given: the mailer, the outbound rules and the time limit. */
export function channelEnv(deps: Deps, signal?: AbortSignal): ChannelEnv {
  return {
    mailer: deps.mailer,
    send: {
      signal,
      outbound: {
        allowPrivate: deps.config.deliveryAllowPrivate,
        timeoutMs: deps.config.deliveryTimeoutSeconds * 1000,
      },
    },
  };
}

const sealContext = (id: string) => `destination:${id}`;

function sealSecrets(deps: Deps, id: string, secrets: Secrets): string | null {
  return Object.keys(secrets).length === 0
    ? null
    : deps.secrets.encrypt(JSON.stringify(secrets), sealContext(id));
}

function openSecrets(deps: Deps, row: DestinationRow): Secrets {
  return row.secret ? (JSON.parse(deps.secrets.decrypt(row.secret, sealContext(row.id))) as Secrets) : {};
}

/** A stored destination ready to send: its channel, settings and secrets. */
export function openDestination(
  deps: Deps,
  row: DestinationRow,
): { channel: Channel; settings: Settings; secrets: Secrets } {
  return {
    channel: channels[row.type as DestinationType],
    settings: row.settings,
    secrets: openSecrets(deps, row),
  };
}

const hostMatches = (host: string, rule: string) =>
  rule.startsWith('*.') ? host.endsWith(rule.slice(1)) && host.length > rule.length - 1 : host === rule;
const domainOf = (address: string) => address.slice(address.lastIndexOf('@') + 1).toLowerCase();

/** Refuses recipients outside the tenant's allow-lists, naming the first one (issue: recipient governance). */
export async function checkRecipients(
  deps: Pick<Deps, 'db'>,
  tenantId: string,
  channel: Channel,
  settings: Settings,
  secrets: Secrets | null,
): Promise<void> {
  const policy = await getDeliveryPolicy(deps.db, tenantId);
  if (!policy) throw new NotFound('Tenant');
  const { emails, hosts } = channel.recipients(settings, secrets);
  const domains = policy.allowedEmailDomains.map((d) => d.toLowerCase());
  if (domains.length > 0)
    for (const email of emails) {
      const domain = domainOf(email);
      if (!domains.some((d) => domain === d || domain.endsWith(`.${d}`)))
        throw Invalid.field(
          'settings',
          `${email} is outside the e-mail domains this workspace may deliver to (${domains.join(', ')})`,
        );
    }
  const allowedHosts = policy.allowedWebhookHosts.map((h) => h.toLowerCase());
  if (allowedHosts.length > 0)
    for (const host of hosts.map((h) => h.toLowerCase()))
      if (!allowedHosts.some((rule) => hostMatches(host, rule)))
        throw Invalid.field(
          'settings',
          `${host} is outside the hosts this workspace may deliver to (${allowedHosts.join(', ')})`,
        );
}

/** Secrets as given: null removes a stored field (on PATCH), anything else is checked by the schema. */
function mergeSecrets(stored: Secrets, given: Record<string, unknown> | undefined): Secrets {
  const merged: Secrets = { ...stored };
  for (const [key, value] of Object.entries(given ?? {})) {
    if (value === null) delete merged[key];
    else merged[key] = value;
  }
  return merged;
}

async function checkDefinition(
  deps: Deps,
  tenantId: string,
  channel: Channel,
  settings: Settings,
  secrets: Secrets,
): Promise<void> {
  checkValue(channel.settings, settings, 'settings');
  checkValue(channel.secrets, secrets, 'secrets');
  for (const name of channel.requiredSecrets)
    if (secrets[name] === undefined || secrets[name] === '')
      throw Invalid.field(`secrets.${name}`, 'is required');
  try {
    await channel.check?.(settings, secrets, channelEnv(deps));
  } catch (err) {
    // A URL the outbound guard refuses (a private address, say) is bad input, not a delivery failure.
    if (err instanceof DeliveryError) throw Invalid.field('settings', err.message);
    throw err;
  }
  await checkRecipients(deps, tenantId, channel, settings, secrets);
}

async function view(deps: Deps, tenantId: string, rows: DestinationRow[]): Promise<DestinationView[]> {
  const used = await schedulesUsing(
    deps.db,
    tenantId,
    rows.map((r) => r.id),
  );
  return rows.map((row) => presentDestination(row, openSecrets(deps, row), used.get(row.id) ?? []));
}

export async function listTenantDestinations(deps: Deps, actor: Principal): Promise<DestinationView[]> {
  return view(deps, actor.tenantId, await listDestinations(deps.db, actor.tenantId));
}

export async function getTenantDestination(
  deps: Deps,
  actor: Principal,
  id: string,
): Promise<DestinationView> {
  const row = await getDestination(deps.db, actor.tenantId, id);
  if (!row) throw new NotFound('Destination');
  return (await view(deps, actor.tenantId, [row]))[0]!;
}

const uniqueName = async <T>(work: () => Promise<T>, name: string): Promise<T> => {
  try {
    return await work();
  } catch (err) {
    if ((err as { code?: string }).code === '23505')
      throw new Conflict(`A destination named "${name}" exists already; pick another name`);
    throw err;
  }
};

export async function createDestination(
  deps: Deps,
  actor: Principal,
  origin: RequestOrigin,
  body: {
    name: string;
    type: DestinationType;
    settings: Settings;
    secrets?: Record<string, unknown> | undefined;
  },
): Promise<DestinationView> {
  const channel = channels[body.type];
  const secrets = mergeSecrets({}, body.secrets);
  await checkDefinition(deps, actor.tenantId, channel, body.settings, secrets);
  const id = newId();
  const row = await uniqueName(
    () =>
      deps.db.transaction(async (tx) => {
        const created = await insertDestination(tx, {
          id,
          tenantId: actor.tenantId,
          name: body.name,
          type: body.type,
          settings: body.settings,
          secret: sealSecrets(deps, id, secrets),
          createdBy: actor.userId,
          now: deps.clock.now(),
        });
        await recordAudit(tx, deps.clock, actor, origin, {
          action: 'destination.created',
          targetType: 'destination',
          targetId: id,
          details: { name: body.name, type: body.type, target: channel.target(body.settings, secrets) },
        });
        return created;
      }),
    body.name,
  );
  return (await view(deps, actor.tenantId, [row]))[0]!;
}

export async function updateTenantDestination(
  deps: Deps,
  actor: Principal,
  origin: RequestOrigin,
  id: string,
  body: {
    name?: string | undefined;
    settings?: Settings | undefined;
    secrets?: Record<string, unknown> | undefined;
  },
): Promise<DestinationView> {
  const current = await getDestination(deps.db, actor.tenantId, id);
  if (!current) throw new NotFound('Destination');
  const { channel, secrets: stored } = openDestination(deps, current);
  const settings = body.settings ?? current.settings;
  const secrets = mergeSecrets(stored, body.secrets);
  // A stored password or token never goes to a place the user did not give it for.
  const before = channel.target(current.settings, stored);
  if (channel.target(settings, secrets) !== before) {
    // Every secret it needs or holds (an own SMTP server's optional password too) is given again, or removed.
    const held = Object.keys(stored ?? {}).filter((name) => stored?.[name] != null);
    const needed = [...new Set([...channel.requiredSecrets, ...held])];
    const missing = needed.filter((name) => body.secrets?.[name] === undefined);
    if (missing.length > 0)
      throw Invalid.field(
        'secrets',
        `give ${missing.join(', ')} again: the destination now points somewhere else, and stored secrets are not sent to a new place`,
      );
  }
  await checkDefinition(deps, actor.tenantId, channel, settings, secrets);
  const name = body.name ?? current.name;
  const row = await uniqueName(
    () =>
      deps.db.transaction(async (tx) => {
        const updated = await updateDestination(tx, actor.tenantId, id, {
          name,
          settings,
          secret: sealSecrets(deps, id, secrets),
          now: deps.clock.now(),
        });
        if (!updated) throw new NotFound('Destination');
        await recordAudit(tx, deps.clock, actor, origin, {
          action: 'destination.updated',
          targetType: 'destination',
          targetId: id,
          details: { fields: Object.keys(body), secretsChanged: Object.keys(body.secrets ?? {}) },
        });
        return updated;
      }),
    name,
  );
  return (await view(deps, actor.tenantId, [row]))[0]!;
}

export async function deleteTenantDestination(
  deps: Deps,
  actor: Principal,
  origin: RequestOrigin,
  id: string,
): Promise<void> {
  await deps.db.transaction(async (tx) => {
    const row = await getDestination(tx, actor.tenantId, id);
    if (!row) throw new NotFound('Destination');
    const used = (await schedulesUsing(tx, actor.tenantId, [id])).get(id) ?? [];
    if (used.length > 0)
      throw new Conflict(
        `The destination is used by ${used.map((s) => `"${s.name}"`).join(', ')}; remove it from ${used.length === 1 ? 'that schedule' : 'those schedules'} first`,
      );
    await deleteDestination(tx, actor.tenantId, id);
    await recordAudit(tx, deps.clock, actor, origin, {
      action: 'destination.deleted',
      targetType: 'destination',
      targetId: id,
      details: { name: row.name, type: row.type },
    });
  });
}

/** "Send test": a real message or file through the channel; the outcome is kept on the destination. */
export async function testDestination(
  deps: Deps,
  actor: Principal,
  origin: RequestOrigin,
  id: string,
): Promise<{ ok: boolean; message: string; details: Record<string, unknown> }> {
  const row = await getDestination(deps.db, actor.tenantId, id);
  if (!row) throw new NotFound('Destination');
  const { channel, settings, secrets } = openDestination(deps, row);
  let result: { ok: boolean; message: string; details: Record<string, unknown> };
  try {
    await checkRecipients(deps, actor.tenantId, channel, settings, secrets);
    const receipt = await channel.test(settings, secrets, channelEnv(deps));
    result = { ok: true, message: receipt.summary, details: receipt.details };
  } catch (err) {
    if (!(err instanceof DeliveryError) && !(err instanceof AppError)) throw err;
    result = {
      ok: false,
      message: describeError(err),
      details: err instanceof DeliveryError ? err.details : {},
    };
  }
  await recordDestinationTest(deps.db, actor.tenantId, id, { ...result, at: deps.clock.now() });
  await recordAudit(deps.db, deps.clock, actor, origin, {
    action: 'destination.tested',
    targetType: 'destination',
    targetId: id,
    details: { ok: result.ok, message: result.message.slice(0, 300) },
  });
  return result;
}

/** Refuses destination ids that are not the tenant's (schedules and one-off exports). */
export async function checkDestinationIds(
  deps: Pick<Deps, 'db'>,
  tenantId: string,
  ids: string[],
): Promise<void> {
  const unique = [...new Set(ids)];
  if (unique.length !== ids.length) throw Invalid.field('destinationIds', 'names a destination twice');
  const found = new Set((await getDestinations(deps.db, tenantId, unique)).map((d) => d.id));
  const missing = ids.findIndex((id) => !found.has(id));
  if (missing >= 0)
    throw Invalid.field(`destinationIds[${missing}]`, `no destination with id ${ids[missing]}`);
}

export async function getTenantDeliveryPolicy(deps: Deps, actor: Principal): Promise<DeliveryPolicy> {
  const policy = await getDeliveryPolicy(deps.db, actor.tenantId);
  if (!policy) throw new NotFound('Tenant');
  return policy;
}

export async function setTenantDeliveryPolicy(
  deps: Deps,
  actor: Principal,
  origin: RequestOrigin,
  policy: DeliveryPolicy,
): Promise<DeliveryPolicy> {
  const clean = {
    allowedEmailDomains: [
      ...new Set(policy.allowedEmailDomains.map((d) => d.trim().toLowerCase().replace(/^@/, ''))),
    ],
    allowedWebhookHosts: [...new Set(policy.allowedWebhookHosts.map((h) => h.trim().toLowerCase()))],
  };
  for (const [i, d] of clean.allowedEmailDomains.entries())
    if (!/^[a-z0-9-]+(\.[a-z0-9-]+)+$/.test(d))
      throw Invalid.field(`allowedEmailDomains.${i}`, `"${d}" is not a domain such as example.com`);
  for (const [i, h] of clean.allowedWebhookHosts.entries())
    if (!/^(\*\.)?[a-z0-9-]+(\.[a-z0-9-]+)*$/.test(h))
      throw Invalid.field(
        `allowedWebhookHosts.${i}`,
        `"${h}" is not a host such as hooks.example.com or *.example.com`,
      );
  await deps.db.transaction(async (tx) => {
    await setDeliveryPolicy(tx, actor.tenantId, clean);
    await recordAudit(tx, deps.clock, actor, origin, {
      action: 'tenant.delivery_policy_changed',
      targetType: 'tenant',
      targetId: actor.tenantId,
      details: clean,
    });
  });
  return clean;
}
