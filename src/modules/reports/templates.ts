import type { ParameterDefinition } from './parameters.ts';

// Built-in reports on the demo data, one per kind of export users ask for.
// "Use template" copies one into the tenant's reports on its demo connection.

export interface Template {
  key: string;
  name: string;
  description: string;
  category: string;
  sql: string;
  parameters: ParameterDefinition[];
}

const dateRange = (from: string, to: string): ParameterDefinition[] => [
  { name: 'from', type: 'date', default: from, label: 'From' },
  { name: 'to', type: 'date', default: to, label: 'To (inclusive)' },
];

/**
 * The demo ledger's entries as bookings (one per document): a sale (1400 against
 * revenue, VAT on line 3), a purchase or an expense (against 1600, VAT on line
 * 2), a credit note as a sale with negative amounts.
 */
const BOOKINGS = `WITH bookings AS (
  SELECT e.document_number, e.posted_on AS document_date, e.description,
         m.account, c.account AS contra_account,
         CASE WHEN m.account = '1400' THEN m.debit ELSE m.debit + v.debit END AS amount,
         CASE WHEN m.account = '1400' THEN t.credit ELSE v.debit END AS vat_amount,
         coalesce(r.rate, 0) AS vat_rate, coalesce(m.vat_code, c.vat_code) AS vat_code,
         coalesce(m.cost_centre, c.cost_centre) AS cost_centre
    FROM journal_entries e
    JOIN journal_lines m ON m.entry_id = e.id AND m.line_no = 1
    JOIN journal_lines v ON v.entry_id = e.id AND v.line_no = 2
    JOIN journal_lines t ON t.entry_id = e.id AND t.line_no = 3
    JOIN journal_lines c ON c.entry_id = e.id AND c.line_no = CASE WHEN m.account = '1400' THEN 2 ELSE 3 END
    LEFT JOIN vat_codes r ON r.code = coalesce(m.vat_code, c.vat_code)
   WHERE e.posted_on BETWEEN {{from}} AND {{to}}
)`;

export const templates: Template[] = [
  {
    key: 'sales-by-day-and-region',
    name: 'Sales by day and region',
    description: 'Orders, units and revenue per day and sales region (cancelled orders excluded).',
    category: 'sales',
    parameters: dateRange('start_of_last_month', 'end_of_last_month'),
    sql: `SELECT o.order_date AS day, o.region,
       count(DISTINCT o.id) AS orders,
       sum(l.quantity) AS units,
       sum(l.line_total) AS revenue
  FROM sales_orders o
  JOIN sales_order_lines l ON l.order_id = o.id
 WHERE o.order_date BETWEEN {{from}} AND {{to}}
   AND o.status <> 'cancelled'
 GROUP BY o.order_date, o.region
 ORDER BY o.order_date, o.region`,
  },
  {
    key: 'sales-order-lines',
    name: 'Sales order lines',
    description: 'Every order line with its order, customer and product: the full-detail export.',
    category: 'sales',
    parameters: dateRange('start_of_month', 'today'),
    sql: `SELECT o.order_number, o.order_date, o.ordered_at, o.status, o.currency, c.name AS customer, c.country,
       l.line_no, p.sku, p.name AS product, l.quantity, l.unit_price, l.discount, l.line_total
  FROM sales_order_lines l
  JOIN sales_orders o ON o.id = l.order_id
  JOIN customers c ON c.id = o.customer_id
  JOIN products p ON p.id = l.product_id
 WHERE o.order_date BETWEEN {{from}} AND {{to}}
 ORDER BY o.order_date, o.order_number, l.line_no`,
  },
  {
    key: 'inventory-below-reorder-level',
    name: 'Inventory below reorder level',
    description: 'Active products whose available stock across warehouses is below their reorder level.',
    category: 'inventory',
    parameters: [],
    sql: `SELECT p.sku, p.name, p.category, p.reorder_level,
       sum(i.on_hand) AS on_hand, sum(i.reserved) AS reserved,
       sum(i.on_hand - i.reserved) AS available,
       max(i.updated_at) AS last_counted_at
  FROM products p
  JOIN inventory_levels i ON i.product_id = p.id
 WHERE p.active
 GROUP BY p.id, p.sku, p.name, p.category, p.reorder_level
HAVING sum(i.on_hand - i.reserved) < p.reorder_level
 ORDER BY available, p.sku`,
  },
  {
    key: 'customer-list',
    name: 'Customer list',
    description: 'Customers with contact details, optionally for one country only.',
    category: 'customers',
    parameters: [
      { name: 'country', type: 'string', required: false, label: 'Country (ISO code; empty = all)' },
    ],
    sql: `SELECT id, name, email, country, city, segment, credit_limit, created_at, notes
  FROM customers
 WHERE {{country}}::text IS NULL OR country = {{country}}
 ORDER BY id`,
  },
  {
    key: 'staff-roster',
    name: 'Staff roster',
    description: 'Employees with department, title, manager and start date.',
    category: 'hr',
    parameters: [
      { name: 'include_inactive', type: 'boolean', default: false, label: 'Include former employees' },
    ],
    sql: `SELECT s.employee_number, s.first_name, s.last_name, s.email, s.department, s.title,
       m.first_name || ' ' || m.last_name AS manager, s.hired_on, s.active
  FROM staff s
  LEFT JOIN staff m ON m.id = s.manager_id
 WHERE s.active OR {{include_inactive}}
 ORDER BY s.department, s.last_name, s.first_name`,
  },
  {
    key: 'attendance-by-month',
    name: 'Attendance by month',
    description: 'Days present, sick and on vacation, and hours worked, per employee and month.',
    category: 'hr',
    parameters: dateRange('start_of_year', 'today'),
    sql: `SELECT date_trunc('month', a.work_date)::date AS month, s.employee_number, s.first_name, s.last_name, s.department,
       count(*) FILTER (WHERE a.status = 'present') AS days_present,
       count(*) FILTER (WHERE a.status = 'sick') AS days_sick,
       count(*) FILTER (WHERE a.status = 'vacation') AS days_vacation,
       coalesce(sum(a.hours), 0) AS hours_worked
  FROM attendance a
  JOIN staff s ON s.id = a.staff_id
 WHERE a.work_date BETWEEN {{from}} AND {{to}}
 GROUP BY 1, s.employee_number, s.first_name, s.last_name, s.department
 ORDER BY 1, s.employee_number`,
  },
  {
    key: 'payroll-summary',
    name: 'Payroll summary',
    description: 'Gross pay, taxes, social security and net pay per month and department.',
    category: 'hr',
    parameters: dateRange('start_of_year', 'today'),
    sql: `SELECT p.period_start AS month, s.department, count(*) AS employees,
       sum(p.gross) AS gross, sum(p.income_tax) AS income_tax, sum(p.social_security) AS social_security, sum(p.net) AS net
  FROM payroll p
  JOIN staff s ON s.id = p.staff_id
 WHERE p.period_start BETWEEN {{from}} AND {{to}}
 GROUP BY p.period_start, s.department
 ORDER BY p.period_start, s.department`,
  },
  {
    key: 'profit-and-loss-by-month',
    name: 'Profit and loss by month',
    description:
      'Revenue, cost of goods, payroll and other expenses and the result per month, from the ledger.',
    category: 'finance',
    parameters: dateRange('start_of_year', 'today'),
    sql: `SELECT date_trunc('month', e.posted_on)::date AS month,
       sum(CASE WHEN a.type = 'revenue' THEN l.credit - l.debit ELSE 0 END) AS revenue,
       sum(CASE WHEN a.number LIKE '3%' THEN l.debit - l.credit ELSE 0 END) AS cost_of_goods,
       sum(CASE WHEN a.type = 'expense' AND a.number NOT LIKE '3%' THEN l.debit - l.credit ELSE 0 END) AS other_expenses,
       sum(CASE WHEN a.type = 'revenue' THEN l.credit - l.debit WHEN a.type = 'expense' THEN l.credit - l.debit ELSE 0 END) AS result
  FROM journal_lines l
  JOIN journal_entries e ON e.id = l.entry_id
  JOIN ledger_accounts a ON a.number = l.account
 WHERE e.posted_on BETWEEN {{from}} AND {{to}}
 GROUP BY 1
 ORDER BY 1`,
  },
  {
    key: 'campaign-performance',
    name: 'Marketing campaign performance',
    description:
      'Impressions, clicks, conversions, spend, revenue, click-through rate and return on ad spend per campaign.',
    category: 'marketing',
    parameters: dateRange('start_of_year', 'today'),
    sql: `SELECT c.name, c.channel, c.starts_on, c.ends_on, c.budget,
       sum(r.impressions) AS impressions, sum(r.clicks) AS clicks, sum(r.conversions) AS conversions,
       sum(r.spend) AS spend, sum(r.revenue) AS revenue,
       round(sum(r.clicks)::numeric / nullif(sum(r.impressions), 0), 6) AS click_through_rate,
       round(sum(r.revenue) / nullif(sum(r.spend), 0), 4) AS return_on_ad_spend
  FROM marketing_campaigns c
  JOIN campaign_results r ON r.campaign_id = c.id
 WHERE r.day BETWEEN {{from}} AND {{to}}
 GROUP BY c.id, c.name, c.channel, c.starts_on, c.ends_on, c.budget
 ORDER BY c.starts_on, c.name`,
  },
  {
    key: 'weekly-usage-summary',
    name: 'Weekly product usage',
    description: 'Events, active customers and time spent per ISO week and event type.',
    category: 'product',
    parameters: [{ name: 'since', type: 'datetime', default: 'start_of_quarter', label: 'Since' }],
    sql: `SELECT date_trunc('week', occurred_at)::date AS week, event_type,
       count(*) AS events, count(DISTINCT customer_id) AS active_customers,
       round(coalesce(sum(duration_ms), 0) / 3600000.0, 2) AS hours
  FROM usage_events
 WHERE occurred_at >= {{since}}
 GROUP BY 1, 2
 ORDER BY 1, 2`,
  },
  {
    key: 'ledger-journal',
    name: 'Ledger journal',
    description:
      'Posted journal lines with document number, accounts, VAT codes and cost centres: the input for DATEV and SAF-T exports.',
    category: 'finance',
    parameters: dateRange('start_of_last_month', 'end_of_last_month'),
    sql: `SELECT e.document_number, e.posted_on, e.description, l.line_no, l.account, a.name AS account_name,
       l.debit, l.credit, l.vat_code, v.rate AS vat_rate, l.cost_centre
  FROM journal_entries e
  JOIN journal_lines l ON l.entry_id = e.id
  JOIN ledger_accounts a ON a.number = l.account
  LEFT JOIN vat_codes v ON v.code = l.vat_code
 WHERE e.posted_on BETWEEN {{from}} AND {{to}}
 ORDER BY e.posted_on, e.document_number, l.line_no`,
  },
  {
    key: 'datev-bookings',
    name: 'DATEV bookings (Buchungsstapel)',
    description:
      'One booking per document with gross amount, account, contra account and tax key (SKR03), its columns named as the DATEV format reads them: export it as DATEV with your consultant and client numbers.',
    category: 'finance',
    parameters: dateRange('start_of_last_month', 'end_of_last_month'),
    sql: `${BOOKINGS}
SELECT b.document_number, b.document_date, b.description, b.account, b.contra_account, b.amount,
       -- SKR03's automatic accounts (1400 with 8400, 3400) carry their tax themselves: no key.
       CASE WHEN b.account IN ('1400', '3400') THEN NULL ELSE b.vat_code END AS tax_key,
       b.cost_centre
  FROM bookings b
 ORDER BY b.document_date, b.document_number`,
  },
  {
    key: 'datev-debtors',
    name: 'DATEV debtors (Debitoren)',
    description:
      'The customers as DATEV personal accounts (10000 + id) with name, e-mail, city, country and credit limit: export it as DATEV with kind "accounts" before the bookings that name them.',
    category: 'finance',
    parameters: [],
    sql: `SELECT 10000 + c.id AS account, c.name AS company_name, c.email, c.city, c.country,
       round(c.credit_limit)::bigint AS credit_limit, 'K' || c.id AS customer_number
  FROM customers c
 ORDER BY c.id`,
  },
  {
    key: 'saft-journal',
    name: 'SAF-T general ledger',
    description:
      'Journal lines with accounts (their names, grouping codes and opening balances), tax codes and customers, named as the SAF-T Financial format reads them: export it as SAF-T with your company’s details.',
    category: 'finance',
    parameters: dateRange('start_of_last_month', 'end_of_last_month'),
    sql: `WITH opening AS (
  SELECT p.account, sum(p.debit - p.credit) AS balance
    FROM journal_lines p JOIN journal_entries pe ON pe.id = p.entry_id
   WHERE pe.posted_on < {{from}}
   GROUP BY p.account
)
SELECT e.document_number, e.posted_on, e.description, l.line_no, l.account, a.name AS account_name,
       -- The Norwegian reference variant groups accounts by the RF-1167 code list; the demo's SKR03 accounts map to it here.
       'RF-1167' AS grouping_category,
       CASE l.account WHEN '1000' THEN '1900' WHEN '1200' THEN '1920' WHEN '1400' THEN '1500'
                      WHEN '1571' THEN '2710' WHEN '1576' THEN '2710' WHEN '1600' THEN '2400'
                      WHEN '1771' THEN '2700' WHEN '1776' THEN '2700' WHEN '3400' THEN '4000'
                      WHEN '4100' THEN '5000' WHEN '4210' THEN '6300' WHEN '4600' THEN '7320'
                      WHEN '4920' THEN '6900' WHEN '4930' THEN '6800' ELSE '3000' END AS grouping_code,
       coalesce(o.balance, 0) AS opening_balance,
       l.debit, l.credit, l.vat_code, v.rate AS vat_rate,
       -- Standard VAT codes: 3 output VAT, 1 input VAT (full rate); 31 and 11 for the reduced one.
       CASE l.vat_code WHEN '3' THEN '3' WHEN '2' THEN '31' WHEN '9' THEN '1' WHEN '8' THEN '11' END AS standard_tax_code,
       CASE WHEN l.account = '1400' AND e.description LIKE 'Rechnung an Kunde %'
            THEN 'K' || substring(e.description FROM '[0-9]+$') END AS customer_id
  FROM journal_entries e
  JOIN journal_lines l ON l.entry_id = e.id
  JOIN ledger_accounts a ON a.number = l.account
  LEFT JOIN vat_codes v ON v.code = l.vat_code
  LEFT JOIN opening o ON o.account = l.account
 WHERE e.posted_on BETWEEN {{from}} AND {{to}}
 ORDER BY e.posted_on, e.document_number, l.line_no`,
  },
  {
    key: 'bmd-bookings',
    name: 'BMD bookings',
    description:
      'One booking per document with gross amount, tax amount and rate, booking symbol (AR sales, ER purchases) and cost centre, named as the BMD NTCS format reads them.',
    category: 'finance',
    parameters: dateRange('start_of_last_month', 'end_of_last_month'),
    sql: `${BOOKINGS}
SELECT b.document_number, b.document_date, b.description, b.account, b.contra_account, b.amount,
       b.vat_amount, b.vat_rate, CASE WHEN b.account = '1400' THEN 'AR' ELSE 'ER' END AS journal_code,
       b.cost_centre
  FROM bookings b
 ORDER BY b.document_date, b.document_number`,
  },
];

export function findTemplate(key: string): Template | undefined {
  return templates.find((t) => t.key === key);
}
