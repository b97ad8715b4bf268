CREATE SCHEMA "eventing";
--> statement-breakpoint
CREATE TABLE "eventing"."dead_letters" (
	"seq" bigserial PRIMARY KEY NOT NULL,
	"event_seq" bigint NOT NULL,
	"trigger" text NOT NULL,
	"subscriber" text NOT NULL,
	"attempts" integer NOT NULL,
	"last_status" integer,
	"last_error" text,
	"sink" text,
	"forwarded_at" timestamp with time zone,
	"dead_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "eventing"."deliveries" (
	"seq" bigserial PRIMARY KEY NOT NULL,
	"event_seq" bigint NOT NULL,
	"trigger" text NOT NULL,
	"subscriber" text NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"next_attempt_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_status" integer,
	"last_error" text
);
--> statement-breakpoint
CREATE TABLE "eventing"."events" (
	"seq" bigserial PRIMARY KEY NOT NULL,
	"broker" text NOT NULL,
	"id" text NOT NULL,
	"source" text NOT NULL,
	"type" text NOT NULL,
	"attributes" jsonb NOT NULL,
	"data" "bytea",
	"received_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "eventing"."dead_letters" ADD CONSTRAINT "dead_letters_event_seq_events_seq_fk" FOREIGN KEY ("event_seq") REFERENCES "eventing"."events"("seq") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "eventing"."deliveries" ADD CONSTRAINT "deliveries_event_seq_events_seq_fk" FOREIGN KEY ("event_seq") REFERENCES "eventing"."events"("seq") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "dead_letters_trigger_index" ON "eventing"."dead_letters" USING btree ("trigger");--> statement-breakpoint
CREATE INDEX "dead_letters_forwarded_at_index" ON "eventing"."dead_letters" USING btree ("forwarded_at");--> statement-breakpoint
CREATE INDEX "deliveries_next_attempt_at_index" ON "eventing"."deliveries" USING btree ("next_attempt_at");--> statement-breakpoint
CREATE INDEX "deliveries_event_seq_index" ON "eventing"."deliveries" USING btree ("event_seq");--> statement-breakpoint
CREATE UNIQUE INDEX "events_broker_source_id_index" ON "eventing"."events" USING btree ("broker","source","id");--> statement-breakpoint
CREATE INDEX "events_received_at_index" ON "eventing"."events" USING btree ("received_at");