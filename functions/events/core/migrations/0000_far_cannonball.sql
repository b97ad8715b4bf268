CREATE SCHEMA "events";
--> statement-breakpoint
CREATE TABLE "events"."dead_letters" (
	"seq" bigserial PRIMARY KEY NOT NULL,
	"key" text NOT NULL,
	"event_id" text NOT NULL,
	"source" text NOT NULL,
	"type" text NOT NULL,
	"subscriber" text NOT NULL,
	"error_code" integer,
	"error_data" text,
	"replay_of" text NOT NULL,
	"attributes" jsonb NOT NULL,
	"data" "bytea",
	"received_at" timestamp with time zone DEFAULT now() NOT NULL,
	"replay_started_at" timestamp with time zone,
	"replayed_at" timestamp with time zone,
	CONSTRAINT "dead_letters_key_unique" UNIQUE("key")
);
--> statement-breakpoint
CREATE INDEX "dead_letters_type_seq_index" ON "events"."dead_letters" USING btree ("type","seq");--> statement-breakpoint
CREATE INDEX "dead_letters_replayed_at_index" ON "events"."dead_letters" USING btree ("replayed_at");