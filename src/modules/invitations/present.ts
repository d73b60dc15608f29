import type { Role } from '../members/roles.ts';
import type { EmailStatus, InvitationRow, InvitationStatus, RevokedReason } from './repo.ts';

export interface InvitationView {
  id: string;
  email: string;
  role: Role;
  name: string;
  status: InvitationStatus;
  invitedBy: { userId: string | null; apiKeyId: string | null; label: string };
  createdAt: string;
  expiresAt: string;
  acceptedAt: string | null;
  revokedAt: string | null;
  revokedReason: RevokedReason | null;
  emailDelivery: { status: EmailStatus; error: string | null };
}

export function invitationStatus(row: InvitationRow, now: Date): InvitationStatus {
  if (row.accepted_at) return 'accepted';
  if (row.revoked_at) return 'revoked';
  return row.expires_at <= now ? 'expired' : 'pending';
}

// The e-mail shown is the address as the inviter typed it, never an account's
// own spelling of it: nothing in an invitation tells whether the address has an
// account.
export function presentInvitation(row: InvitationRow, now: Date): InvitationView {
  return {
    id: row.id,
    email: row.email,
    role: row.role,
    name: row.name,
    status: invitationStatus(row, now),
    invitedBy: {
      userId: row.invited_by_user_id,
      apiKeyId: row.invited_by_api_key_id,
      label: row.invited_by_label,
    },
    createdAt: row.created_at.toISOString(),
    expiresAt: row.expires_at.toISOString(),
    acceptedAt: row.accepted_at?.toISOString() ?? null,
    revokedAt: row.revoked_at?.toISOString() ?? null,
    revokedReason: row.revoked_reason,
    emailDelivery: { status: row.email_status, error: row.email_error },
  };
}
