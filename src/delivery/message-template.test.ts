import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import { deliveryContext, lateEveningInBerlin } from '../../test/helpers/delivery-context.ts';
import { Invalid } from '../lib/errors.ts';
import {
  checkTemplate,
  defaultTemplates,
  formatBytes,
  renderHtml,
  renderSubject,
  renderText,
  templateProblems,
  templateValues,
  templateVariables,
} from './message-template.ts';
import type { DeliveryContext, DeliveryFile } from './types.ts';

// The variables of report e-mails and how each kind of body escapes them. What
// the values look like once a real SMTP server has the message is checked in
// email-channel.test.ts.

function context(overrides: Partial<DeliveryContext> = {}): DeliveryContext {
  return deliveryContext(lateEveningInBerlin('https://ferry.example.test/d/abc?sig=1&x=2'), overrides);
}

const file: DeliveryFile = {
  fileName: 'sales.csv',
  contentType: 'text/csv',
  size: 1_234_567,
  checksum: '0'.repeat(64),
  open: async () => Readable.from([]),
};

describe('message templates', () => {
  test('every variable has its value: local time and date in the run zone, human numbers', () => {
    const all = templateVariables.map((v) => `${v}=[{{${v}}}]`).join('\n');
    assert.equal(
      renderText(all, templateValues(context({ recipient: 'ana@example.com' }), file)),
      [
        'report=[Sales]',
        'schedule=[Every morning]',
        'run_time=[2026-03-02 00:30 Europe/Berlin]',
        'date=[2026-03-02]',
        'rows=[12,345]',
        'size=[1.2 MB]',
        'file=[sales.csv]',
        'format=[csv]',
        'link=[https://ferry.example.test/d/abc?sig=1&x=2]',
        'link_expires=[2026-03-09 00:30 Europe/Berlin]',
        'status=[succeeded]',
        'error=[]',
        'tenant=[Acme]',
        'recipient=[ana@example.com]',
      ].join('\n'),
    );
  });

  test('a failed run without a file, schedule or link leaves those values empty', () => {
    const values = templateValues(
      context({ status: 'failed', error: 'relation "sales" does not exist', scheduleName: null, link: null }),
      null,
    );
    assert.equal(
      renderText('{{status}}: {{error}} [{{schedule}}|{{file}}|{{size}}|{{link}}|{{link_expires}}]', values),
      'failed: relation "sales" does not exist [||||]',
    );
  });

  test('spaces inside the braces are allowed', () => {
    assert.equal(renderText('{{ report }}/{{report }}', templateValues(context(), file)), 'Sales/Sales');
  });

  test('sizes use decimal units with at most one decimal', () => {
    assert.deepEqual([0, 999, 1000, 1_234, 999_949, 999_950, 10_000_000, 1_250_000_000].map(formatBytes), [
      '0 B',
      '999 B',
      '1 kB',
      '1.2 kB',
      '999.9 kB',
      '1 MB',
      '10 MB',
      '1.3 GB',
    ]);
  });

  test('an HTML body escapes every value but keeps the template markup', () => {
    const values = templateValues(
      context({ reportName: `<script>alert("x")</script> & O'Brien`, tenantName: '<b>Acme</b>' }),
      file,
    );
    assert.equal(
      renderHtml('<p class="r">{{report}}</p><a href="{{link}}">{{tenant}}</a>', values),
      '<p class="r">&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; O&#39;Brien</p>' +
        '<a href="https://ferry.example.test/d/abc?sig=1&amp;x=2">&lt;b&gt;Acme&lt;/b&gt;</a>',
    );
  });

  test('a subject loses CR, LF and control characters from values and template alike', () => {
    const values = templateValues(
      context({ reportName: 'Sales\r\nBcc: victim@example.test', error: 'a\u0000b\u001bc\u2028d' }),
      file,
    );
    const subject = renderSubject('{{report}}\n— {{error}}\t{{date}}', values);
    assert.equal(subject, 'Sales Bcc: victim@example.test — abc d 2026-03-02');
    assert.doesNotMatch(subject, /\p{Cc}/u);
  });

  test('a very long subject is cut with an ellipsis', () => {
    const subject = renderSubject('{{error}}', templateValues(context({ error: 'x'.repeat(5000) }), file));
    assert.equal(Array.from(subject).length, 200);
    assert.ok(subject.endsWith('x…'));
  });

  test('an unknown variable is Invalid, naming it and the field', () => {
    assert.throws(
      () => checkTemplate('Hello {{reprot}} and {{ foo }}', 'subject'),
      (err: unknown) => {
        assert.ok(err instanceof Invalid);
        assert.deepEqual(
          err.errors?.map((e) => e.path),
          ['subject', 'subject'],
        );
        assert.match(
          err.message,
          /^subject: unknown variable \{\{reprot\}\}; the variables are \{\{report\}\}/,
        );
        assert.match(err.message, /unknown variable \{\{foo\}\}/);
        return true;
      },
    );
  });

  test('an unclosed "{{" is a problem; the known variables and plain braces are not', () => {
    assert.deepEqual(templateProblems('Report {{report'), ['"{{" without a closing "}}"']);
    assert.deepEqual(templateProblems('{"json": {"a": 1}} {{report}} {{ date }}'), []);
    checkTemplate(templateVariables.map((v) => `{{${v}}}`).join(' '));
  });

  test('rendering an unchecked template with an unknown variable fails instead of sending the braces', () => {
    assert.throws(
      () => renderText('{{nope}}', templateValues(context(), file)),
      /unknown variable \{\{nope\}\}/,
    );
  });

  test('the default templates use only known variables and mention the numbers', () => {
    const values = templateValues(context(), file);
    for (const [situation, templates] of Object.entries(defaultTemplates)) {
      for (const template of Object.values(templates))
        assert.deepEqual(templateProblems(template), [], situation);
    }
    assert.equal(renderSubject(defaultTemplates.attached.subject, values), 'Sales — 2026-03-02');
    const text = renderText(defaultTemplates.too_large.text, values);
    for (const expected of ['12,345', '1.2 MB', 'sales.csv', values.link, values.link_expires])
      assert.ok(text.includes(expected), `${expected} in ${text}`);
    assert.match(
      renderHtml(defaultTemplates.link.html, values),
      /<a href="https:\/\/ferry\.example\.test\/d\/abc\?sig=1&amp;x=2">/,
    );
  });
});
