-- Acme Mutual back office: seed data. Everything here is fictional (example.com / example.org).
-- "Today" for the application is 2026-11-20; the seed's timestamps are all before 09:00 that day.
-- The audit log starts empty, so the application's clock starts at 2026-11-20T09:00:00.

INSERT INTO staff (id, username, name, role, active) VALUES
    (1, 'jordan', 'Jordan Lee',   'agent',    1),
    (2, 'casey',  'Casey Morgan', 'agent',    1),
    (3, 'priya',  'Priya Nair',   'adjuster', 1),
    (4, 'sam',    'Sam Okoye',    'manager',  1),
    (5, 'alex',   'Alex Kim',     'admin',    1);

-- Ages on 2026-11-20 in the comments.
INSERT INTO customers (id, name, email, phone, address, date_of_birth, smoker, status, created_at) VALUES
    (1,  'Maria Gonzalez',  'maria.gonzalez@example.com',  '+1-555-0101', '14 Alder Street, Springfield, OR 97477',  '1984-03-12', 0,    'active', '2021-04-02T10:15:00'), -- 42
    (2,  'Liam O''Connor',  'liam.oconnor@example.com',    '+1-555-0102', '7 Harbour View, Portland, ME 04101',      '1991-07-04', NULL, 'active', '2023-08-21T09:40:00'), -- 35
    (3,  'Harold Whitfield','h.whitfield@example.org',     '+1-555-0103', '221 Elm Row, Burlington, VT 05401',       '1948-02-19', 0,    'active', '2019-01-07T11:00:00'), -- 78
    (4,  'Aisha Rahman',    'aisha.rahman@example.com',    '+1-555-0104', '88 Cedar Lane, Madison, WI 53703',        '1970-09-30', NULL, 'active', '2026-04-28T15:20:00'), -- 56
    (5,  'Tyler Brooks',    'tyler.brooks@example.com',    '+1-555-0105', '3B Campus Court, Austin, TX 78705',       '2005-05-15', 0,    'active', '2026-08-19T13:05:00'), -- 21
    (6,  'Chen Wei',        'chen.wei@example.org',        '+1-555-0106', '410 Pine Terrace, Sacramento, CA 95814',  '1962-11-02', 1,    'active', '2019-01-28T10:30:00'), -- 64
    (7,  'Sofia Rossi',     'sofia.rossi@example.com',     '+1-555-0107', '52 Maple Avenue, Columbus, OH 43215',     '1988-12-25', 0,    'active', '2026-04-10T16:45:00'), -- 37
    (8,  'Daniel Okafor',   'daniel.okafor@example.com',   '+1-555-0108', '19 Birch Close, Raleigh, NC 27601',       '1979-06-08', 0,    'active', '2024-06-12T12:10:00'), -- 47
    (9,  'Emma Schultz',    'emma.schultz@example.org',    '+1-555-0109', '6 Lakeside Drive, Duluth, MN 55802',      '1995-01-30', 0,    'active', '2026-10-20T14:00:00'), -- 31
    (10, 'Grace Thompson',  'grace.thompson@example.com',  '+1-555-0110', '31 Willow Bend, Savannah, GA 31401',      '1953-04-17', 0,    'active', '2010-04-22T09:00:00'), -- 73
    (11, 'Noah Fischer',    'noah.fischer@example.com',    '+1-555-0111', '12 Orchard Way, Boise, ID 83702',         '2008-12-01', NULL, 'active', '2026-11-19T16:00:00'), -- 17 (18 on 2026-12-01)
    (12, 'Peter Lindqvist', 'peter.lindqvist@example.org', '+1-555-0112', '77 Fjord Street, Seattle, WA 98101',      '1975-10-10', 0,    'closed', '2024-02-20T10:00:00'), -- 51, closed
    (13, 'Jonas Becker',    'jonas.becker@example.com',    '+1-555-0113', '5 Quarry Road, Denver, CO 80202',         NULL,         NULL, 'active', '2025-11-25T11:30:00'), -- no date of birth
    (14, 'Olivia Martin',   'olivia.martin@example.com',   '+1-555-0114', '140 Harbor Street, San Diego, CA 92101',  '1968-05-22', NULL, 'active', '2026-11-12T10:20:00'); -- 58, prospect

INSERT INTO policies (id, number, customer_id, product, status, premium_monthly, start_date, end_date, cancel_reason, cancelled_at) VALUES
    (1,  'POL-1001', 1,  'auto',   'active',    82.40,  '2026-03-01', '2027-02-28', NULL, NULL),
    (2,  'POL-1002', 1,  'home',   'active',    41.25,  '2026-06-15', '2027-06-14', NULL, NULL),
    (3,  'POL-1003', 2,  'life',   'active',    18.90,  '2023-09-01', '2043-08-31', NULL, NULL),
    (4,  'POL-1004', 3,  'home',   'active',    64.00,  '2026-01-10', '2027-01-09', NULL, NULL),
    (5,  'POL-1005', 4,  'auto',   'active',    96.10,  '2026-05-01', '2027-04-30', NULL, NULL),
    (6,  'POL-1006', 5,  'auto',   'active',    142.75, '2026-08-20', '2027-08-19', NULL, NULL),
    (7,  'POL-1007', 6,  'life',   'active',    211.50, '2019-02-01', '2039-01-31', NULL, NULL),
    (8,  'POL-1008', 6,  'home',   'active',    55.80,  '2026-02-01', '2027-01-31', NULL, NULL),
    (9,  'POL-1009', 7,  'home',   'active',    47.30,  '2026-04-15', '2027-04-14', NULL, NULL),
    (10, 'POL-1010', 8,  'home',   'active',    103.20, '2026-01-10', '2027-01-09', NULL, NULL),
    (11, 'POL-1011', 8,  'auto',   'lapsed',    77.00,  '2024-07-01', '2025-06-30', NULL, NULL),
    (12, 'POL-1012', 9,  'travel', 'active',    62.50,  '2026-12-01', '2026-12-21', NULL, NULL),
    (13, 'POL-1013', 10, 'travel', 'active',    88.00,  '2026-11-01', '2027-10-31', NULL, NULL),
    (14, 'POL-1014', 10, 'life',   'lapsed',    64.20,  '2010-05-01', '2025-04-30', NULL, NULL),
    (15, 'POL-1015', 12, 'home',   'cancelled', 58.60,  '2024-03-01', '2025-02-28', 'Property sold', '2024-11-30T14:05:00'),
    (16, 'POL-1016', 13, 'auto',   'active',    69.90,  '2025-12-01', '2026-11-30', NULL, NULL);

INSERT INTO quotes (id, customer_id, product, inputs, premium_monthly, status, reason, policy_id, created_by, created_at) VALUES
    (1, 2,  'life',   '{"age": 35, "coverage_amount": 250000, "term_years": 20}', 20.0, 'quoted', NULL, NULL, 'jordan', '2026-11-16T15:00:00'),
    (2, 3,  'life',   '{"age": 78, "coverage_amount": 50000}', NULL, 'declined', 'life cover is not offered above age 75 (applicant is 78)', NULL, 'casey', '2026-11-10T11:00:00'),
    (3, 7,  'travel', '{"age": 37, "coverage_amount": 5000, "destination": "Portugal", "trip_days": 14}', 35.0, 'quoted', NULL, NULL, 'casey', '2026-11-18T11:30:00');

INSERT INTO claims (id, number, policy_id, type, description, amount_claimed, amount_approved, status, assigned_to, created_at) VALUES
    (1,  'CLM-2001', 1,  'collision',     'Rear-ended at a traffic light on Main Street; rear bumper and tailgate damaged.', 3200.00, NULL, 'open', NULL, '2026-11-17T16:40:00'),
    (2,  'CLM-2002', 4,  'water_damage',  'Burst pipe in the upstairs bathroom flooded the kitchen ceiling.', 8750.00, NULL, 'under_review', 'priya', '2026-11-02T09:30:00'),
    (3,  'CLM-2003', 6,  'collision',     'Slid on ice into a parked van; front-end damage to the car.', 4100.00, 3650.00, 'approved', 'priya', '2026-10-21T11:05:00'),
    (4,  'CLM-2004', 9,  'theft',         'Bicycle stolen from the front porch overnight.', 1200.00, NULL, 'rejected', 'priya', '2026-09-14T13:20:00'),
    (5,  'CLM-2005', 2,  'storm',         'Storm blew tiles off the roof; water stain on the bedroom ceiling.', 2300.00, 2100.00, 'paid', 'priya', '2026-08-03T08:15:00'),
    (6,  'CLM-2006', 13, 'lost_baggage',  'Suitcase lost on a connecting flight via Lisbon and never returned.', 640.00, NULL, 'open', NULL, '2026-11-18T08:50:00'),
    (7,  'CLM-2007', 8,  'fire',          'Kitchen fire caused by a faulty oven; cabinets and ceiling need replacing.', 15000.00, 12500.00, 'approved', 'priya', '2026-10-05T15:45:00'),
    (8,  'CLM-2008', 5,  'windscreen',    'Windscreen cracked by road debris on the highway.', 450.00, NULL, 'under_review', 'priya', '2026-11-12T10:10:00'),
    (9,  'CLM-2009', 10, 'water_damage',  'Washing machine hose failed; laundry room floor and drywall soaked.', 5400.00, NULL, 'open', NULL, '2026-11-19T17:25:00'),
    (10, 'CLM-2010', 16, 'collision',     'Scraped a bollard in a car park; driver door panel dented.', 980.00, 980.00, 'paid', 'priya', '2026-07-22T12:00:00');

INSERT INTO payments (id, policy_id, customer_id, kind, amount, status, reference, approved_by, refund_of, claim_id, reason, created_by, created_at) VALUES
    (1,  1,  1,  'premium', 82.40,   'completed', 'PRM-1001-2026-10',     NULL,  NULL, NULL, NULL, 'billing', '2026-10-01T06:00:00'),
    (2,  1,  1,  'premium', 82.40,   'completed', 'PRM-1001-2026-11',     NULL,  NULL, NULL, NULL, 'billing', '2026-11-01T06:00:00'),
    (3,  1,  1,  'premium', 82.40,   'completed', 'PRM-1001-2026-11',     NULL,  NULL, NULL, NULL, 'billing', '2026-11-02T06:00:00'),
    (4,  2,  1,  'premium', 41.25,   'completed', 'PRM-1002-2026-11',     NULL,  NULL, NULL, NULL, 'billing', '2026-11-01T06:00:00'),
    (5,  10, 8,  'premium', 1238.40, 'completed', 'PRM-1010-2026-ANNUAL', NULL,  NULL, NULL, NULL, 'billing', '2026-01-10T06:00:00'),
    (6,  6,  5,  'premium', 142.75,  'completed', 'PRM-1006-2026-11',     NULL,  NULL, NULL, NULL, 'billing', '2026-11-01T06:00:00'),
    (7,  12, 9,  'premium', 62.50,   'completed', 'PRM-1012-TRIP',        NULL,  NULL, NULL, NULL, 'jordan',  '2026-10-20T14:12:00'),
    (8,  7,  6,  'premium', 211.50,  'completed', 'PRM-1007-2026-11',     NULL,  NULL, NULL, NULL, 'billing', '2026-11-01T06:00:00'),
    (9,  9,  7,  'premium', 47.30,   'completed', 'PRM-1009-2026-11',     NULL,  NULL, NULL, NULL, 'billing', '2026-11-01T06:00:00'),
    (10, 3,  2,  'premium', 18.90,   'completed', 'PRM-1003-2026-11',     NULL,  NULL, NULL, NULL, 'billing', '2026-11-01T06:00:00'),
    (11, 5,  4,  'premium', 96.10,   'pending',   'PRM-1005-2026-11',     NULL,  NULL, NULL, NULL, 'billing', '2026-11-19T06:00:00'),
    (12, 13, 10, 'premium', 88.00,   'completed', 'PRM-1013-2026-11',     NULL,  NULL, NULL, NULL, 'billing', '2026-11-01T06:00:00'),
    (13, 4,  3,  'premium', 768.00,  'completed', 'PRM-1004-2026-ANNUAL', NULL,  NULL, NULL, NULL, 'billing', '2026-01-10T06:00:00'),
    (14, 2,  1,  'payout',  2100.00, 'completed', 'CLM-2005',             'sam', NULL, 5,    NULL, 'priya',   '2026-08-20T10:00:00'),
    (15, 16, 13, 'payout',  980.00,  'completed', 'CLM-2010',             'sam', NULL, 10,   NULL, 'priya',   '2026-07-30T10:00:00'),
    (16, 10, 8,  'refund',  120.00,  'completed', NULL,                   'sam', 5,    NULL, 'Annual premium recalculated after the alarm discount', 'casey', '2026-03-02T11:30:00'),
    (17, 16, 13, 'premium', 69.90,   'completed', 'PRM-1016-2026-11',     NULL,  NULL, NULL, NULL, 'billing', '2026-11-01T06:00:00');

INSERT INTO tasks (id, customer_id, title, due_date, assigned_to, status, created_by, created_at) VALUES
    (1,  1,    'Call Maria Gonzalez about the duplicate November charge', '2026-11-20', 'jordan', 'open', 'casey',  '2026-11-19T13:00:00'),
    (2,  13,   'Renewal reminder: POL-1016 ends 2026-11-30',              '2026-11-23', 'jordan', 'open', 'sam',    '2026-11-01T08:00:00'),
    (3,  7,    'Update Sofia Rossi''s address after her move',            '2026-11-21', 'jordan', 'open', 'jordan', '2026-11-19T08:30:00'),
    (4,  2,    'Send Liam O''Connor the life cover increase quote',        '2026-11-18', 'jordan', 'open', 'jordan', '2026-11-16T15:05:00'),
    (5,  10,   'Check in with Grace Thompson about her lost baggage claim', '2026-11-27', 'jordan', 'open', 'priya',  '2026-11-18T10:05:00'),
    (6,  NULL, 'Complete the quarterly compliance training',               '2026-12-05', 'jordan', 'open', 'sam',    '2026-11-02T09:00:00'),
    (7,  5,    'Collect photos for CLM-2003 repair estimate',              '2026-10-25', 'jordan', 'done', 'priya',  '2026-10-21T11:30:00'),
    (8,  3,    'Arrange plumber report for CLM-2002',                      '2026-11-22', 'priya',  'open', 'priya',  '2026-11-03T09:00:00'),
    (9,  8,    'Review CLM-2009 water damage',                             '2026-11-24', 'priya',  'open', 'casey',  '2026-11-19T17:40:00'),
    (10, 4,    'Follow up on the pending November premium',                '2026-11-26', 'casey',  'open', 'casey',  '2026-11-19T09:00:00');

INSERT INTO notes (id, customer_id, claim_id, author, body, created_at) VALUES
    (1,  1,  NULL, 'jordan', 'Prefers email contact; calls only after 5pm.', '2026-05-12T14:00:00'),
    (2,  1,  1,    'casey',  'Asked for the other driver''s insurer details; police report number to follow.', '2026-11-17T17:10:00'),
    (3,  3,  2,    'priya',  'Loss adjuster visit booked for 2026-11-24. Kitchen ceiling partly collapsed.', '2026-11-17T14:00:00'),
    (4,  5,  3,    'priya',  'Approved 3,650.00: Northside Auto Body estimate 4,100.00 less the 450.00 excess.', '2026-11-10T16:30:00'),
    (5,  7,  4,    'priya',  'Rejected: bicycle left unlocked outside the insured building; excluded under section 4.2.', '2026-09-20T10:00:00'),
    (6,  6,  7,    'priya',  'Approved 12,500.00 after reviewing the contractor quote; payout awaits manager sign-off.', '2026-10-28T15:00:00'),
    (7,  10, 6,    'casey',  'Airline reference LX-88412; customer sent receipts for replacement clothing.', '2026-11-18T10:00:00'),
    (8,  4,  NULL, 'casey',  'Interested in life cover; call back once she has her latest health check results.', '2026-11-05T11:15:00'),
    (9,  12, NULL, 'sam',    'Account closed at the customer''s request after the property sale.', '2024-11-30T14:10:00'),
    (10, 9,  NULL, 'jordan', 'Single-trip cover for Japan, 1-21 December; premium paid by card.', '2026-10-20T14:15:00');

INSERT INTO documents (id, customer_id, claim_id, title, kind, content, created_at) VALUES
    (1,  1,  1,    'Police report - rear-end collision', 'police_report',
     'Incident 2026-11-17 16:05 at Main Street and 3rd Avenue. Vehicle 1 (Maria Gonzalez) stationary at a red light; vehicle 2 failed to stop. No injuries. Report number SPD-26-44817.', '2026-11-18T09:00:00'),
    (2,  3,  2,    'Plumber''s invoice - emergency callout', 'invoice',
     'Rapid Flow Plumbing. Emergency callout 2026-11-01, replaced split copper pipe under the bathroom floor. Labour 380.00, parts 95.00, total 475.00.', '2026-11-03T12:00:00'),
    (3,  5,  3,    'Repair estimate - Northside Auto Body', 'estimate',
     'Front bumper, bonnet, headlamp assembly and radiator support. Parts 2,640.00, labour 1,460.00, total 4,100.00.', '2026-10-23T10:00:00'),
    (4,  5,  3,    'Photos of the front-end damage', 'photo',
     'Six photos: crumpled bonnet, broken left headlamp, bumper pushed in by about 10 cm; taken at the tow yard on 2026-10-21.', '2026-10-22T09:30:00'),
    (5,  7,  4,    'Customer statement - stolen bicycle', 'statement',
     'I left my bicycle on the front porch on the evening of 13 September. It was not locked. In the morning it was gone.', '2026-09-14T13:30:00'),
    (6,  6,  7,    'Contractor quote - kitchen rebuild', 'estimate',
     'Harper & Sons Builders: strip-out 1,800.00, cabinets 6,900.00, ceiling and electrics 3,800.00, total 12,500.00.', '2026-10-20T16:00:00'),
    (7,  10, 6,    'Airline property irregularity report', 'report',
     'File LX-88412: one grey hard-shell suitcase, checked Savannah to Porto via Lisbon on 2026-11-14, not delivered.', '2026-11-18T08:55:00'),
    (8,  1,  NULL, 'Policy schedule POL-1001', 'policy_schedule',
     'Auto policy POL-1001, 2026-03-01 to 2027-02-28. Vehicle: 2019 Honda Civic. Excess 300.00. Premium 82.40 per month.', '2026-03-01T09:00:00'),
    (9,  8,  9,    'Photos of the laundry room', 'photo',
     'Four photos: standing water on the tiled floor, swollen drywall to 30 cm, split inlet hose behind the washing machine.', '2026-11-19T17:30:00'),
    (10, 2,  NULL, 'Policy schedule POL-1003', 'policy_schedule',
     'Life policy POL-1003, term 20 years from 2023-09-01. Sum assured 200,000.00. Premium 18.90 per month.', '2023-09-01T09:00:00');

INSERT INTO messages (id, customer_id, direction, subject, body, created_by, created_at) VALUES
    (1,  7,  'in',  'New address',
     'Hi, I moved last week. My new address is 9 Riverside Walk, Columbus, OH 43215. Please update my details and my home policy. Thanks, Sofia', NULL, '2026-11-18T19:22:00'),
    (2,  9,  'in',  'Refund for my Japan trip insurance',
     'Hello, the tour operator has cancelled my trip to Japan. Could I have a refund of the 62.50 I paid for the travel policy POL-1012? Best, Emma Schultz', NULL, '2026-11-19T08:05:00'),
    (3,  1,  'in',  'Charged twice in November?',
     'Hello, my bank statement shows two payments of 82.40 for my car insurance this month (on 1 and 2 November). Could you check and refund the extra one? Maria Gonzalez', NULL, '2026-11-19T12:40:00'),
    (4,  3,  'in',  'Any news on my claim?',
     'Dear Sir or Madam, it has been over two weeks since I reported the burst pipe (CLM-2002). When will someone come to look at it? Harold Whitfield', NULL, '2026-11-17T10:00:00'),
    (5,  3,  'out', 'Re: Any news on my claim?',
     'Dear Mr Whitfield, our loss adjuster will visit on 24 November. We are sorry for the wait. Priya Nair, Acme Mutual', 'priya', '2026-11-17T14:20:00'),
    (6,  2,  'in',  'Increasing my life cover',
     'Hi, I would like to raise my life cover to 250,000 over 20 years. Could you send me a quote? Liam', NULL, '2026-11-15T20:10:00'),
    (7,  5,  'in',  'Repair payment',
     'Hi, the garage has finished the repairs on my car. When will the 3,650 be paid out? Tyler', NULL, '2026-11-19T18:45:00'),
    (8,  6,  'out', 'Your claim CLM-2007 has been approved',
     'Dear Mr Chen, your kitchen fire claim has been approved for 12,500.00. The payment will follow shortly. Acme Mutual claims team', 'priya', '2026-10-28T15:10:00'),
    (9,  13, 'in',  'Renewal question',
     'My car policy ends on 30 November. Will it renew automatically, and will the price change? Jonas Becker', NULL, '2026-11-16T09:10:00'),
    (10, 11, 'in',  'Travel insurance for a school trip',
     'Hi, I am going on a two-week school exchange to Spain in March. I am 17 - can I buy travel cover myself? Noah', NULL, '2026-11-19T16:00:00');
