import {
  AppShell,
  Avatar,
  Burger,
  Group,
  Menu,
  NavLink,
  ScrollArea,
  Select,
  Text,
  UnstyledButton,
  useMantineColorScheme,
  VisuallyHidden,
} from '@mantine/core';
import { useDisclosure } from '@mantine/hooks';
import { notifications } from '@mantine/notifications';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import type { ReactNode } from 'react';
import { Link, useLocation, useNavigate } from 'react-router';
import { api, errorMessage, forgetSession, unwrap } from '../api/client';
import { LANGUAGES, type Language, type MessageKey, useI18n } from '../i18n';
import { type Permission, useSession } from './session';

interface NavItem {
  to: string;
  label: MessageKey;
  permission?: Permission;
  admin?: boolean;
}

const MAIN: NavItem[] = [
  { to: '/reports', label: 'nav.reports', permission: 'reports:read' },
  { to: '/schedules', label: 'nav.schedules', permission: 'schedules:read' },
  { to: '/runs', label: 'nav.runs', permission: 'runs:read' },
  { to: '/destinations', label: 'nav.destinations', permission: 'destinations:read' },
  { to: '/connections', label: 'nav.connections', permission: 'connections:read' },
];

const WORKSPACE: NavItem[] = [
  { to: '/workspace/members', label: 'nav.members', permission: 'members:read' },
  { to: '/workspace/api-keys', label: 'nav.apiKeys', permission: 'api-keys:read' },
  { to: '/workspace/audit', label: 'nav.audit', permission: 'audit:read' },
  { to: '/workspace/stats', label: 'nav.stats', permission: 'stats:read' },
  { to: '/admin/tenants', label: 'nav.tenants', admin: true },
];

function TenantSwitcher() {
  const { t } = useI18n();
  const { me } = useSession();
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const switchTo = useMutation({
    mutationFn: (tenantId: string) => unwrap(api.POST('/api/v1/auth/switch', { body: { tenantId } })),
    onSuccess: () => {
      queryClient.clear();
      navigate('/reports');
    },
    onError: (error) => notifications.show({ color: 'red', message: errorMessage(error) }),
  });
  if (me.tenants.length < 2) {
    return (
      <Text fw={600} size="sm" truncate="end" maw={220} data-testid="tenant-name">
        {me.tenant.name}
      </Text>
    );
  }
  return (
    <Select
      aria-label={t('shell.switchTenant')}
      size="xs"
      w={200}
      value={me.tenant.id}
      allowDeselect={false}
      data={me.tenants.map((x) => ({ value: x.id, label: x.name }))}
      onChange={(id) => id && id !== me.tenant.id && switchTo.mutate(id)}
      disabled={switchTo.isPending}
    />
  );
}

function UserMenu() {
  const { t, language, setLanguage } = useI18n();
  const { me } = useSession();
  const { colorScheme, setColorScheme } = useMantineColorScheme();
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const logout = useMutation({
    mutationFn: () => api.POST('/api/v1/auth/logout'),
    onSettled: () => {
      forgetSession();
      queryClient.clear();
      navigate('/login?signedOut=1', { replace: true });
    },
  });
  const label = me.user?.name || me.user?.email || me.apiKey?.name || '?';
  return (
    <Menu position="bottom-end" width={240} withinPortal>
      <Menu.Target>
        <UnstyledButton title={t('shell.account')} data-testid="user-menu">
          {/* The name is the button's accessible name; on narrow screens it is read but not shown. */}
          <Group gap={6} wrap="nowrap">
            <Avatar size={28} radius="xl" color="blue" aria-hidden="true">
              {label.slice(0, 1).toUpperCase()}
            </Avatar>
            <Text size="sm" visibleFrom="sm" truncate="end" maw={180}>
              {label}
            </Text>
            <VisuallyHidden hiddenFrom="sm">{label}</VisuallyHidden>
          </Group>
        </UnstyledButton>
      </Menu.Target>
      <Menu.Dropdown>
        <Menu.Label>{t('shell.role', { role: t(`role.${me.role}`) })}</Menu.Label>
        <Menu.Divider />
        <Menu.Label>{t('shell.theme')}</Menu.Label>
        {(['light', 'dark', 'auto'] as const).map((scheme) => (
          <Menu.Item
            key={scheme}
            onClick={() => setColorScheme(scheme)}
            rightSection={colorScheme === scheme ? '✓' : null}
          >
            {t(
              scheme === 'light'
                ? 'shell.themeLight'
                : scheme === 'dark'
                  ? 'shell.themeDark'
                  : 'shell.themeAuto',
            )}
          </Menu.Item>
        ))}
        <Menu.Divider />
        <Menu.Label>{t('shell.language')}</Menu.Label>
        {LANGUAGES.map((l) => (
          <Menu.Item
            key={l.value}
            lang={l.value}
            onClick={() => setLanguage(l.value as Language)}
            rightSection={language === l.value ? '✓' : null}
          >
            {l.label}
          </Menu.Item>
        ))}
        <Menu.Divider />
        <Menu.Item component="a" href="/docs" target="_blank" rel="noopener">
          {t('nav.apiDocs')}
        </Menu.Item>
        {me.via === 'session' ? (
          <Menu.Item color="red" onClick={() => logout.mutate()}>
            {t('shell.signOut')}
          </Menu.Item>
        ) : null}
      </Menu.Dropdown>
    </Menu>
  );
}

/** The frame of every signed-in page: header with workspace and account, navigation, content. */
export function Layout({ children }: { children: ReactNode }) {
  const { t } = useI18n();
  const { me, can } = useSession();
  const [opened, { toggle, close }] = useDisclosure(false);
  const location = useLocation();
  const visible = (item: NavItem) =>
    item.admin ? me.instanceAdmin : !item.permission || can(item.permission);
  const link = (item: NavItem) => (
    <NavLink
      key={item.to}
      component={Link}
      to={item.to}
      label={t(item.label)}
      active={location.pathname === item.to || location.pathname.startsWith(`${item.to}/`)}
      onClick={close}
    />
  );
  const workspace = WORKSPACE.filter(visible);
  return (
    <AppShell
      header={{ height: 56 }}
      navbar={{ width: 220, breakpoint: 'sm', collapsed: { mobile: !opened } }}
      padding="md"
    >
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between" wrap="nowrap">
          <Group gap="sm" wrap="nowrap">
            <Burger
              opened={opened}
              onClick={toggle}
              hiddenFrom="sm"
              size="sm"
              aria-label={t('nav.openMenu')}
            />
            <Link
              to="/reports"
              style={{
                display: 'flex',
                alignItems: 'center',
                gap: 8,
                textDecoration: 'none',
                color: 'inherit',
              }}
            >
              <img src="/favicon.svg" alt={t('app.name')} width={24} height={24} />
              <Text fw={700} visibleFrom="xs" aria-hidden="true">
                {t('app.name')}
              </Text>
            </Link>
            <TenantSwitcher />
          </Group>
          <UserMenu />
        </Group>
      </AppShell.Header>
      <AppShell.Navbar p="xs" aria-label="Main">
        <ScrollArea>
          {MAIN.filter(visible).map(link)}
          {workspace.length > 0 ? (
            <>
              <Text size="xs" c="dimmed" fw={600} tt="uppercase" mt="md" mb={4} px="sm">
                {t('nav.workspace')}
              </Text>
              {workspace.map(link)}
            </>
          ) : null}
        </ScrollArea>
      </AppShell.Navbar>
      <AppShell.Main>{children}</AppShell.Main>
    </AppShell>
  );
}
