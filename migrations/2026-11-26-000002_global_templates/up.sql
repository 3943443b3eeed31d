-- Starter content provided to every organization (read-only to them).
INSERT INTO message_templates (organization_id, owner_key, id, name, subject, body) VALUES
(NULL, '00000000-0000-0000-0000-000000000000', '00000000-0000-7000-8000-000000000001',
 'Introduction', 'Quick question, {{first_name}}',
 E'Hi {{first_name}},\n\nI work with teams like {{company}} on their outbound pipeline and thought it could be worth a short conversation.\n\nWould you be open to 15 minutes next week?\n\nBest,\n{{sender_name}}\n{{organization}}'),
(NULL, '00000000-0000-0000-0000-000000000000', '00000000-0000-7000-8000-000000000002',
 'Follow-up', 'Following up, {{first_name}}',
 E'Hi {{first_name}},\n\nJust bringing my last note back to the top of your inbox. If the timing is wrong for {{company}}, a one-word reply is fine.\n\nThanks,\n{{sender_name}}'),
(NULL, '00000000-0000-0000-0000-000000000000', '00000000-0000-7000-8000-000000000003',
 'Break-up', 'Should I close your file?',
 E'Hi {{first_name}},\n\nI have not heard back, so I will assume this is not a priority for you as {{title}} right now. I will not write again unless you ask me to.\n\nAll the best,\n{{sender_name}}');

INSERT INTO sequences (organization_id, owner_key, id, name) VALUES
(NULL, '00000000-0000-0000-0000-000000000000', '00000000-0000-7000-8000-000000000101', 'Classic three-touch');

INSERT INTO sequence_steps (organization_id, owner_key, id, sequence_id, position, template_owner_key, template_id, delay_days) VALUES
(NULL, '00000000-0000-0000-0000-000000000000', '00000000-0000-7000-8000-000000000201', '00000000-0000-7000-8000-000000000101', 1, '00000000-0000-0000-0000-000000000000', '00000000-0000-7000-8000-000000000001', 0),
(NULL, '00000000-0000-0000-0000-000000000000', '00000000-0000-7000-8000-000000000202', '00000000-0000-7000-8000-000000000101', 2, '00000000-0000-0000-0000-000000000000', '00000000-0000-7000-8000-000000000002', 3),
(NULL, '00000000-0000-0000-0000-000000000000', '00000000-0000-7000-8000-000000000203', '00000000-0000-7000-8000-000000000101', 3, '00000000-0000-0000-0000-000000000000', '00000000-0000-7000-8000-000000000003', 7);
