import { Alert } from '@mantine/core';
import { useSession } from '../app/session';
import { useT } from '../i18n';

/** Says why edit controls are missing, or why an edit page is refused, for the caller's role. */
export function ReadOnlyNotice({ forbidden = false }: { forbidden?: boolean }) {
  const t = useT();
  const { me } = useSession();
  const role = t(`role.${me.role}`);
  return (
    <Alert color={forbidden ? 'orange' : 'gray'} role={forbidden ? 'alert' : 'note'} mb="md">
      {forbidden ? t('state.forbidden', { role }) : t('state.readOnly', { role })}
    </Alert>
  );
}
