import { createContext, type ReactNode, useCallback, useContext, useMemo, useState } from 'react';
import * as auth from './auth';
import * as common from './common';
import * as connections from './connections';
import * as destinations from './destinations';
import * as reports from './reports';
import * as runs from './runs';
import * as schedules from './schedules';
import * as workspace from './workspace';

// One message catalogue for the whole app, kept per area in files that hold
// English and German side by side; the German half is typed by the English one,
// so a key missing in either language does not compile.

const catalog = {
  en: {
    ...common.en,
    ...auth.en,
    ...reports.en,
    ...schedules.en,
    ...runs.en,
    ...connections.en,
    ...destinations.en,
    ...workspace.en,
  },
  de: {
    ...common.de,
    ...auth.de,
    ...reports.de,
    ...schedules.de,
    ...runs.de,
    ...connections.de,
    ...destinations.de,
    ...workspace.de,
  },
};

export type Language = keyof typeof catalog;
export type MessageKey = keyof (typeof catalog)['en'];
export type Translate = (key: MessageKey, vars?: Record<string, string | number>) => string;
export const LANGUAGES: Array<{ value: Language; label: string }> = [
  { value: 'en', label: 'English' },
  { value: 'de', label: 'Deutsch' },
];

const STORAGE_KEY = 'ferry.language';

function initialLanguage(): Language {
  const stored = localStorage.getItem(STORAGE_KEY);
  if (stored === 'en' || stored === 'de') return stored;
  return navigator.language.toLowerCase().startsWith('de') ? 'de' : 'en';
}

/** The locale used for dates and numbers: German (dd.MM.yyyy, 24 h) or the browser's English. */
function localeOf(language: Language): string {
  if (language === 'de') return 'de-DE';
  const browser = navigator.language;
  return browser.toLowerCase().startsWith('en') ? browser : 'en-GB';
}

interface I18n {
  language: Language;
  locale: string;
  setLanguage(language: Language): void;
  t: Translate;
}

const I18nContext = createContext<I18n | null>(null);

export function interpolate(message: string, vars?: Record<string, string | number>): string {
  if (!vars) return message;
  return message.replace(/\{(\w+)\}/g, (whole, name: string) => (name in vars ? String(vars[name]) : whole));
}

export function I18nProvider({ children }: { children: ReactNode }) {
  const [language, setLanguageState] = useState<Language>(initialLanguage);
  const setLanguage = useCallback((next: Language) => {
    localStorage.setItem(STORAGE_KEY, next);
    document.documentElement.lang = next;
    setLanguageState(next);
    // Answers written in words by the server (schedule descriptions) are fetched again in the new language.
    window.dispatchEvent(new Event('ferry:language'));
  }, []);
  const value = useMemo<I18n>(() => {
    document.documentElement.lang = language;
    const messages = catalog[language];
    return {
      language,
      locale: localeOf(language),
      setLanguage,
      t: (key, vars) => interpolate(messages[key] ?? catalog.en[key] ?? key, vars),
    };
  }, [language, setLanguage]);
  return <I18nContext.Provider value={value}>{children}</I18nContext.Provider>;
}

export function useI18n(): I18n {
  const value = useContext(I18nContext);
  if (!value) throw new Error('useI18n outside I18nProvider');
  return value;
}

export function useT(): Translate {
  return useI18n().t;
}
