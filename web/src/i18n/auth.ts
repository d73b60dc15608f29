// Setup, sign-in, sign-out.
export const en = {
  'setup.title': 'Set up Ferry',
  'setup.intro':
    'Create the first workspace and its owner. The setup token was printed on the console when Ferry started, and is in the file setup-token in the data directory.',
  'setup.token': 'Setup token',
  'setup.tenantName': 'Workspace name',
  'setup.tenantNameHint': 'Your team or company, e.g. "Finance"',
  'setup.name': 'Your name',
  'setup.email': 'E-mail',
  'setup.password': 'Password',
  'setup.passwordHint': 'At least 8 characters',
  'setup.emailInvalid': 'Enter an e-mail address such as name@example.com',
  'setup.submit': 'Create workspace',
  'setup.done': 'Ferry is set up. Welcome!',
  'login.title': 'Sign in to Ferry',
  'login.email': 'E-mail',
  'login.password': 'Password',
  'login.submit': 'Sign in',
  'login.expired': 'Your session has ended. Sign in again.',
  'login.signedOut': 'You are signed out.',
};

export const de: typeof en = {
  'setup.title': 'Ferry einrichten',
  'setup.intro':
    'Legen Sie den ersten Arbeitsbereich und seinen Eigentümer an. Das Einrichtungs-Token stand beim Start von Ferry in der Konsole und steht in der Datei setup-token im Datenverzeichnis.',
  'setup.token': 'Einrichtungs-Token',
  'setup.tenantName': 'Name des Arbeitsbereichs',
  'setup.tenantNameHint': 'Ihr Team oder Ihre Firma, z. B. „Finanzen“',
  'setup.name': 'Ihr Name',
  'setup.email': 'E-Mail',
  'setup.password': 'Passwort',
  'setup.passwordHint': 'Mindestens 8 Zeichen',
  'setup.emailInvalid': 'Geben Sie eine E-Mail-Adresse wie name@example.com ein',
  'setup.submit': 'Arbeitsbereich anlegen',
  'setup.done': 'Ferry ist eingerichtet. Willkommen!',
  'login.title': 'Bei Ferry anmelden',
  'login.email': 'E-Mail',
  'login.password': 'Passwort',
  'login.submit': 'Anmelden',
  'login.expired': 'Ihre Sitzung ist abgelaufen. Bitte melden Sie sich erneut an.',
  'login.signedOut': 'Sie sind abgemeldet.',
};
