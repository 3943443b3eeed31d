ALTER TABLE sequences DROP COLUMN stop_on_reply;
