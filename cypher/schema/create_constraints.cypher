// Uniqueness constraints: applied before any write, so MERGE on these keys is index-backed.
CREATE CONSTRAINT account_id IF NOT EXISTS FOR (n:Account) REQUIRE n.account_id IS UNIQUE;
CREATE CONSTRAINT instrument_id IF NOT EXISTS FOR (n:PaymentInstrument) REQUIRE n.instrument_id IS UNIQUE;
CREATE CONSTRAINT ip IF NOT EXISTS FOR (n:IP) REQUIRE n.ip IS UNIQUE;
CREATE CONSTRAINT subnet_cidr IF NOT EXISTS FOR (n:Subnet) REQUIRE n.cidr IS UNIQUE;
CREATE CONSTRAINT device_id IF NOT EXISTS FOR (n:Device) REQUIRE n.device_id IS UNIQUE;
CREATE CONSTRAINT tls_fingerprint IF NOT EXISTS FOR (n:TlsFingerprint) REQUIRE n.fingerprint IS UNIQUE;
CREATE CONSTRAINT prompt_template IF NOT EXISTS FOR (n:PromptTemplate) REQUIRE n.fingerprint IS UNIQUE;
CREATE CONSTRAINT email_domain IF NOT EXISTS FOR (n:EmailDomain) REQUIRE n.domain IS UNIQUE;
CREATE CONSTRAINT user_agent IF NOT EXISTS FOR (n:UserAgent) REQUIRE n.user_agent IS UNIQUE;
CREATE CONSTRAINT card_bin IF NOT EXISTS FOR (n:CardBin) REQUIRE n.bin IS UNIQUE;
CREATE CONSTRAINT api_key_id IF NOT EXISTS FOR (n:ApiKey) REQUIRE n.api_key_id IS UNIQUE;
CREATE CONSTRAINT network_owner IF NOT EXISTS FOR (n:NetworkOwner) REQUIRE n.owner IS UNIQUE;
CREATE CONSTRAINT organisation_id IF NOT EXISTS FOR (n:Organisation) REQUIRE n.org_id IS UNIQUE;
CREATE CONSTRAINT label_name IF NOT EXISTS FOR (n:Label) REQUIRE n.name IS UNIQUE;
CREATE CONSTRAINT operator_id IF NOT EXISTS FOR (n:Operator) REQUIRE n.operator_id IS UNIQUE;
CREATE CONSTRAINT attribution_run_id IF NOT EXISTS FOR (n:AttributionRun) REQUIRE n.run_id IS UNIQUE;
CREATE CONSTRAINT ingest_run_id IF NOT EXISTS FOR (n:IngestRun) REQUIRE n.ingest_id IS UNIQUE;
CREATE CONSTRAINT job_state_name IF NOT EXISTS FOR (n:JobState) REQUIRE n.name IS UNIQUE;
// One lease node per name (db/lease.py): MERGE on a fresh database never makes two.
CREATE CONSTRAINT lock_name IF NOT EXISTS FOR (n:Lock) REQUIRE n.name IS UNIQUE;
CREATE CONSTRAINT data_version_name IF NOT EXISTS FOR (n:DataVersion) REQUIRE n.name IS UNIQUE;
CREATE CONSTRAINT ingest_state_name IF NOT EXISTS FOR (n:IngestState) REQUIRE n.name IS UNIQUE;
CREATE CONSTRAINT audit_checkpoint_log IF NOT EXISTS FOR (n:AuditCheckpoint) REQUIRE n.log IS UNIQUE
