-- Per sequence (docs/product.md, "Data rights"): a lead whose status becomes Replied or Lost leaves
-- it, with the reason on the enrolment. On by default, global ones included.
ALTER TABLE sequences ADD COLUMN stop_on_reply boolean NOT NULL DEFAULT true;
