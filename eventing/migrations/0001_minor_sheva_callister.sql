DROP INDEX "eventing"."events_broker_source_id_index";--> statement-breakpoint
ALTER TABLE "eventing"."events" ADD COLUMN "replay" text DEFAULT '' NOT NULL;--> statement-breakpoint
CREATE UNIQUE INDEX "events_broker_source_id_replay_index" ON "eventing"."events" USING btree ("broker","source","id","replay");