import { registerApiKeyRoutes } from '../modules/api-keys/routes.ts';
import { registerAuditRoutes } from '../modules/audit/routes.ts';
import { registerConnectionRoutes } from '../modules/connections/routes.ts';
import { registerDeliveryRoutes } from '../modules/deliveries/routes.ts';
import type { Deps } from '../modules/deps.ts';
import { registerDestinationRoutes } from '../modules/destinations/routes.ts';
import { registerFormatRoutes } from '../modules/formats/routes.ts';
import { registerInvitationRoutes } from '../modules/invitations/routes.ts';
import { registerMemberRoutes } from '../modules/members/routes.ts';
import { registerReportRoutes } from '../modules/reports/routes.ts';
import { registerRunRoutes } from '../modules/runs/routes.ts';
import { registerScheduleRoutes } from '../modules/schedules/routes.ts';
import { registerSessionRoutes } from '../modules/sessions/routes.ts';
import { registerSetupRoutes } from '../modules/setup/routes.ts';
import { registerSystemRoutes } from '../modules/system/routes.ts';
import { registerTenantRoutes } from '../modules/tenants/routes.ts';
import type { App } from './types.ts';

/** Every module's routes, in one list. */
export function registerRoutes(app: App, deps: Deps): void {
  registerSystemRoutes(app, deps);
  registerSetupRoutes(app, deps);
  registerSessionRoutes(app, deps);
  registerApiKeyRoutes(app, deps);
  registerMemberRoutes(app, deps);
  registerInvitationRoutes(app, deps);
  registerAuditRoutes(app, deps);
  registerTenantRoutes(app, deps);
  registerConnectionRoutes(app, deps);
  registerReportRoutes(app, deps);
  registerRunRoutes(app, deps);
  registerFormatRoutes(app, deps);
  registerScheduleRoutes(app, deps);
  registerDestinationRoutes(app, deps);
  registerDeliveryRoutes(app, deps);
}
