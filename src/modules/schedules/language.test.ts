import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { descriptionLanguageOf, parseAcceptLanguage } from './language.ts';

describe('Accept-Language → description language', () => {
  test('German for de and any de-… range; English otherwise and without the header', () => {
    for (const header of ['de', 'de-DE', 'de-AT', 'DE-ch', 'de-DE,de;q=0.9', 'de-1996'])
      assert.equal(descriptionLanguageOf(header), 'de', header);
    for (const header of [undefined, '', 'en', 'en-US', 'fr-FR', 'fr, it;q=0.5', 'deu', 'dee-DE', '*'])
      assert.equal(descriptionLanguageOf(header), 'en', String(header));
  });

  test('q-values decide, the earlier range wins a tie, q=0 refuses a language', () => {
    assert.equal(descriptionLanguageOf('en;q=0.5, de;q=0.8'), 'de');
    assert.equal(descriptionLanguageOf('de;q=0.5, en'), 'en');
    assert.equal(descriptionLanguageOf('en-GB, de-DE'), 'en');
    assert.equal(descriptionLanguageOf('de-AT, en'), 'de');
    assert.equal(descriptionLanguageOf('de-AT;q=0.7, en;q=0.7'), 'de');
    assert.equal(descriptionLanguageOf('fr-FR, fr;q=0.9, de;q=0.5'), 'de', 'the best language Ferry speaks');
    assert.equal(descriptionLanguageOf('de;q=0'), 'en');
    assert.equal(descriptionLanguageOf('de;q=0, *'), 'en');
    assert.equal(descriptionLanguageOf('en;q=0, *;q=0.3'), 'de', '"*" stands for languages not named');
    assert.equal(descriptionLanguageOf('de-DE;q=0.2, de;q=0.9, en;q=0.5'), 'de');
    assert.equal(descriptionLanguageOf('  de-DE ; q = 0.9 , en ; q=0.8 '), 'de');
  });

  test('malformed ranges and q-values are left out', () => {
    assert.equal(descriptionLanguageOf('de;q=2, en;q=0.1'), 'en');
    assert.equal(descriptionLanguageOf('de;q=abc'), 'en');
    assert.equal(descriptionLanguageOf('de;q=0.1234, en;q=0.1'), 'en');
    assert.equal(descriptionLanguageOf('d e, de_DE, ;q=1, de-DE'), 'de');
    assert.equal(descriptionLanguageOf(',,,'), 'en');
    assert.equal(descriptionLanguageOf(['en;q=0.1', 'de-AT']), 'de', 'repeated headers');
    assert.deepEqual(parseAcceptLanguage('de-DE,de;q=0.9,en;q=0.8,*;q=0.1'), [
      { language: 'de', q: 1, position: 0 },
      { language: 'de', q: 0.9, position: 1 },
      { language: 'en', q: 0.8, position: 2 },
      { language: '*', q: 0.1, position: 3 },
    ]);
  });
});
