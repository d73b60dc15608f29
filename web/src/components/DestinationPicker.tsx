import { Anchor, MultiSelect, Stack, Text } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { Link } from 'react-router';
import { api, unwrap } from '../api/client';
import { useCan } from '../app/session';
import { useT } from '../i18n';
import { destinationsKey, TYPE_ICON, targetOf, typeLabel } from '../pages/destinations/shared';

/**
 * The tenant's destinations to choose from (schedule editor, export drawer), with
 * a link to create one. A chosen destination that no longer exists still shows
 * by its id, so saving does not drop it unseen.
 */
export function DestinationPicker({
  value,
  onChange,
  error,
  disabled,
}: {
  value: string[];
  onChange: (ids: string[]) => void;
  error?: string | undefined;
  disabled?: boolean;
}) {
  const t = useT();
  const canCreate = useCan('destinations:write');
  const list = useQuery({
    queryKey: destinationsKey,
    queryFn: () => unwrap(api.GET('/api/v1/destinations')),
  });
  const items = list.data?.items ?? [];
  const data = items.map((d) => ({
    value: d.id,
    label: `${TYPE_ICON[d.type]} ${d.name} · ${typeLabel(t, d.type)} · ${targetOf(d)}`,
  }));
  for (const id of value) if (!items.some((d) => d.id === id)) data.push({ value: id, label: id });
  return (
    <Stack gap={4}>
      <MultiSelect
        label={t('destinations.picker.label')}
        description={t('destinations.picker.help')}
        placeholder={value.length === 0 ? t('destinations.picker.placeholder') : undefined}
        data={data}
        value={value}
        onChange={onChange}
        searchable
        clearable
        hidePickedOptions
        nothingFoundMessage={t('destinations.picker.none')}
        error={error}
        disabled={disabled ?? false}
        data-testid="destination-picker"
      />
      {list.isSuccess && items.length === 0 ? (
        <Text size="sm" c="dimmed">
          {t('destinations.picker.none')}
        </Text>
      ) : null}
      {canCreate ? (
        <Text size="sm">
          <Anchor component={Link} to="/destinations/new" target="_blank">
            {t('destinations.picker.create')}
          </Anchor>
        </Text>
      ) : null}
    </Stack>
  );
}
