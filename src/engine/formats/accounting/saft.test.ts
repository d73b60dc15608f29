import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { XMLParser } from 'fast-xml-parser';
import { line, rows, writeSaft } from '../../../../test/helpers/saft-fixture.ts';

// SAF-T Financial (Norwegian 1.30) from journal lines. The output is read with
// an independent XML parser and checked against the element order, the
// required elements and the values the schema demands (stated here from the
// schema, which is not in the repository: Skatteetaten/saf-t has no open
// licence); saft.process.test.ts has libxml2 (xmllint) read it too.

type Ordered = Array<Record<string, unknown>>;
const ordered = new XMLParser({ preserveOrder: true, ignoreAttributes: false, parseTagValue: false });
const plain = new XMLParser({
  ignoreAttributes: false,
  parseTagValue: false,
  isArray: (n) => ['Account', 'Transaction', 'Line', 'TaxCodeDetails', 'Customer'].includes(n),
});
/** The child element names of the first element found along a path, in document order. */
function childOrder(doc: Ordered, path: string[]): string[] {
  let level: Ordered = doc;
  for (const name of path) {
    const found = level.find((n) => name in n);
    assert.ok(found, `no ${name} along ${path.join('/')}`);
    level = found[name] as Ordered;
  }
  return level.map((n) => Object.keys(n).find((k) => k !== ':@')!).filter((k) => k !== '#text');
}

describe('SAF-T Financial (NO 1.30)', () => {
  test('elements in the schema’s order, with its required values; master files and totals from the lines', async () => {
    const xml = await writeSaft(rows);
    const doc = ordered.parse(xml) as Ordered;
    assert.deepEqual(childOrder(doc, ['AuditFile']), ['Header', 'MasterFiles', 'GeneralLedgerEntries']);
    assert.deepEqual(childOrder(doc, ['AuditFile', 'Header']), [
      'AuditFileVersion',
      'AuditFileCountry',
      'AuditFileDateCreated',
      'SoftwareCompanyName',
      'SoftwareID',
      'SoftwareVersion',
      'Company',
      'DefaultCurrencyCode',
      'SelectionCriteria',
      'TaxAccountingBasis',
    ]);
    assert.deepEqual(childOrder(doc, ['AuditFile', 'Header', 'Company']), [
      'RegistrationNumber',
      'Name',
      'Address',
      'Contact',
    ]);
    assert.deepEqual(childOrder(doc, ['AuditFile', 'MasterFiles']), [
      'GeneralLedgerAccounts',
      'Customers',
      'TaxTable',
    ]);
    assert.deepEqual(childOrder(doc, ['AuditFile', 'MasterFiles', 'GeneralLedgerAccounts', 'Account']), [
      'AccountID',
      'AccountDescription',
      'GroupingCategory',
      'GroupingCode',
      'AccountType',
      'OpeningDebitBalance',
      'ClosingDebitBalance',
    ]);
    assert.deepEqual(
      childOrder(doc, ['AuditFile', 'MasterFiles', 'TaxTable', 'TaxTableEntry', 'TaxCodeDetails']),
      ['TaxCode', 'TaxPercentage', 'Country', 'StandardTaxCode', 'BaseRate'],
    );
    assert.deepEqual(childOrder(doc, ['AuditFile', 'GeneralLedgerEntries']), [
      'NumberOfEntries',
      'TotalDebit',
      'TotalCredit',
      'Journal',
    ]);
    assert.deepEqual(childOrder(doc, ['AuditFile', 'GeneralLedgerEntries', 'Journal', 'Transaction']), [
      'TransactionID',
      'Period',
      'PeriodYear',
      'TransactionDate',
      'Description',
      'SystemEntryDate',
      'GLPostingDate',
      'Line',
      'Line',
      'Line',
    ]);
    assert.deepEqual(
      childOrder(doc, ['AuditFile', 'GeneralLedgerEntries', 'Journal', 'Transaction', 'Line']),
      ['RecordID', 'AccountID', 'CustomerID', 'Description', 'DebitAmount'],
    );

    const f = plain.parse(xml).AuditFile;
    assert.equal(plain.parse(xml).AuditFile['@_xmlns'], 'urn:StandardAuditFile-Taxation-Financial:NO');
    assert.equal(f.Header.AuditFileVersion, '1.30');
    assert.equal(f.Header.TaxAccountingBasis, 'A');
    assert.equal(f.Header.AuditFileDateCreated, '2026-11-03');
    assert.deepEqual(f.Header.SelectionCriteria, {
      SelectionStartDate: '2026-10-01',
      SelectionEndDate: '2026-10-31',
    });
    const gl = f.GeneralLedgerEntries;
    assert.equal(gl.NumberOfEntries, '2');
    // A negative debit (the credit note's receivable) is a credit, a negative credit a debit:
    // 119.00 + 50.00 + 9.50 on each side.
    assert.equal(gl.TotalDebit, '178.50');
    assert.equal(gl.TotalCredit, '178.50');
    const [re1, gs2] = gl.Journal.Transaction;
    assert.deepEqual([re1.Period, re1.PeriodYear, re1.Description], ['10', '2026', 'Beleg RE-1 & <Co>']);
    assert.deepEqual(gs2.Line[0].CreditAmount, { Amount: '59.50' });
    assert.deepEqual(re1.Line[1].TaxInformation, {
      TaxType: 'MVA',
      TaxCode: '3',
      TaxPercentage: '19.00',
      CreditTaxAmount: { Amount: '0.00' },
    });
    const accounts = Object.fromEntries(
      f.MasterFiles.GeneralLedgerAccounts.Account.map((a: { AccountID: string }) => [a.AccountID, a]),
    );
    // 1400: opened at 100.00 debit, +119.00, −59.50 → 159.50 debit. 8400: −100.00 + 50.00 → 50.00 credit.
    assert.equal(accounts['1400'].ClosingDebitBalance, '159.50');
    assert.equal(accounts['8400'].ClosingCreditBalance, '50.00');
    assert.equal(accounts['1776'].ClosingCreditBalance, '9.50');
    assert.deepEqual(f.MasterFiles.Customers.Customer, [{ Name: 'K7', CustomerID: 'K7' }]);
    assert.deepEqual(f.MasterFiles.TaxTable.TaxTableEntry.TaxType, 'MVA');
    assert.deepEqual(f.MasterFiles.TaxTable.TaxTableEntry.Description, 'Merverdiavgift');

    // Debits equal credits in every transaction.
    for (const tx of gl.Journal.Transaction) {
      const sum = (side: string) =>
        tx.Line.reduce(
          (s: number, l: Record<string, { Amount: string }>) =>
            s + Math.round(Number(l[side]?.Amount ?? 0) * 100),
          0,
        );
      assert.equal(sum('DebitAmount'), sum('CreditAmount'), tx.TransactionID);
    }
  });

  test('bad input is named by row and field before any file: an unbalanced document, scattered lines, dates outside the period, no grouping', async () => {
    const unbalanced = [...rows.slice(0, 2), line('RE-1', '2026-10-02', 3, '1776', '0', '18.00')];
    await assert.rejects(
      writeSaft(unbalanced),
      /row 1, field TransactionID: document RE-1 does not balance: its debits and credits differ by 1.00/,
    );
    const scattered = [
      ...rows,
      line('RE-1', '2026-10-02', 4, '1200', '1.00', '0'),
      line('RE-1', '2026-10-02', 5, '8400', '0', '1.00'),
    ];
    await assert.rejects(
      writeSaft(scattered),
      /row 7, field TransactionID: the lines of document RE-1 are not together/,
    );
    await assert.rejects(
      writeSaft([line('X', '2026-11-01', 1, '1400', '1', '0')]),
      /row 1, field TransactionDate: 2026-11-01 is outside the period/,
    );
    await assert.rejects(
      writeSaft([line('X', '2026-10-01', 1, '1400', '1', '0', { grouping_code: null })]),
      /row 1, field GroupingCode: account 1400 needs a grouping category and code in SAF-T NO/,
    );
    await assert.rejects(
      writeSaft([line('X', '2026-10-01', 1, '1400', '1', '0', { customer_id: 'K1' })], {
        mapping: { supplierId: { column: 'customer_id' } },
      }),
      /a line has a customer or a supplier, not both/,
    );
  });

  test('an empty period is a valid file with no journal', async () => {
    const doc = plain.parse(await writeSaft([])).AuditFile;
    assert.equal(doc.GeneralLedgerEntries.NumberOfEntries, '0');
    assert.equal(doc.GeneralLedgerEntries.Journal, undefined);
  });
});
