CREATE SCHEMA "mail";
--> statement-breakpoint
CREATE TABLE "mail"."audit" (
	"seq" bigserial PRIMARY KEY NOT NULL,
	"tenant" text NOT NULL,
	"actor" text NOT NULL,
	"action" text NOT NULL,
	"target" text NOT NULL,
	"outcome" text NOT NULL,
	"request_id" text,
	"source_ip" text,
	"at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "mail"."inbox" (
	"source" text NOT NULL,
	"id" text NOT NULL,
	"type" text NOT NULL,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "inbox_source_id_pk" PRIMARY KEY("source","id")
);
--> statement-breakpoint
CREATE TABLE "mail"."message_events" (
	"seq" bigserial PRIMARY KEY NOT NULL,
	"message_id" text NOT NULL,
	"tenant" text NOT NULL,
	"kind" text NOT NULL,
	"detail" "bytea",
	"at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "mail"."messages" (
	"id" text PRIMARY KEY NOT NULL,
	"tenant" text NOT NULL,
	"status" text NOT NULL,
	"subjects" text[] NOT NULL,
	"recipient_index" text[] NOT NULL,
	"recipient_count" integer NOT NULL,
	"size_bytes" integer NOT NULL,
	"tags" text[] NOT NULL,
	"idempotency_key" text,
	"request_hash" text,
	"content" "bytea" NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"next_attempt_at" timestamp with time zone DEFAULT now() NOT NULL,
	"lease_until" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "mail"."outbox" (
	"seq" bigserial PRIMARY KEY NOT NULL,
	"id" text NOT NULL,
	"type" text NOT NULL,
	"source" text NOT NULL,
	"subject" text,
	"data" jsonb NOT NULL,
	"time" timestamp with time zone DEFAULT now() NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"next_attempt_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_error" text,
	CONSTRAINT "outbox_id_unique" UNIQUE("id")
);
--> statement-breakpoint
CREATE TABLE "mail"."senders" (
	"tenant" text NOT NULL,
	"domain" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "senders_tenant_domain_pk" PRIMARY KEY("tenant","domain")
);
--> statement-breakpoint
CREATE TABLE "mail"."subjects" (
	"tenant" text NOT NULL,
	"id" text NOT NULL,
	"wrapped_key" "bytea",
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"erased_at" timestamp with time zone,
	CONSTRAINT "subjects_tenant_id_pk" PRIMARY KEY("tenant","id")
);
--> statement-breakpoint
CREATE TABLE "mail"."suppressions" (
	"tenant" text NOT NULL,
	"address_index" text NOT NULL,
	"reason" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "suppressions_tenant_address_index_pk" PRIMARY KEY("tenant","address_index")
);
--> statement-breakpoint
CREATE TABLE "mail"."templates" (
	"tenant" text NOT NULL,
	"name" text NOT NULL,
	"locale" text NOT NULL,
	"version" integer NOT NULL,
	"subject" text NOT NULL,
	"text" text,
	"html" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "templates_tenant_name_locale_version_pk" PRIMARY KEY("tenant","name","locale","version")
);
--> statement-breakpoint
CREATE INDEX "audit_tenant_seq_index" ON "mail"."audit" USING btree ("tenant","seq");--> statement-breakpoint
CREATE INDEX "message_events_message_id_seq_index" ON "mail"."message_events" USING btree ("message_id","seq");--> statement-breakpoint
CREATE UNIQUE INDEX "messages_tenant_idempotency_key_index" ON "mail"."messages" USING btree ("tenant","idempotency_key");--> statement-breakpoint
CREATE INDEX "messages_tenant_created_at_index" ON "mail"."messages" USING btree ("tenant","created_at");--> statement-breakpoint
CREATE INDEX "messages_status_next_attempt_at_index" ON "mail"."messages" USING btree ("status","next_attempt_at");--> statement-breakpoint
CREATE INDEX "messages_subjects_index" ON "mail"."messages" USING gin ("subjects");--> statement-breakpoint
CREATE INDEX "outbox_next_attempt_at_index" ON "mail"."outbox" USING btree ("next_attempt_at");