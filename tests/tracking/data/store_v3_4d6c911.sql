BEGIN TRANSACTION;
CREATE TABLE documents (
	id INTEGER NOT NULL, 
	transmission_id VARCHAR(36) NOT NULL, 
	kind VARCHAR(40) NOT NULL, 
	name TEXT, 
	digest VARCHAR(64) NOT NULL, 
	size BIGINT NOT NULL, 
	content BLOB NOT NULL, 
	received_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_documents_content UNIQUE (transmission_id, kind, digest), 
	FOREIGN KEY(transmission_id) REFERENCES transmissions (id)
);
INSERT INTO "documents" VALUES(1,'62924aac-4bfe-4c50-b52f-c85b37b5f0e5','ack','ACK_PES_1.xml','7f4e278d28bbd10b186bc5051c9c1142a4986656e74093f818ec97499ddc493d',27,X'3C5045535F4143515549543E6F6B3C2F5045535F4143515549543E','2026-01-05 09:00:04.000000');
INSERT INTO "documents" VALUES(2,'ce036ac3-a65e-4d60-8862-be80594be3c0','aracte','ar.xml','7d05fe66484f96d6dc4f7f8055cc02bd8f111143f05ccb41f5cca8ba0380633a',9,X'3C4152416374652F3E','2026-01-05 09:00:10.000000');
INSERT INTO "documents" VALUES(3,'ce036ac3-a65e-4d60-8862-be80594be3c0','courrier','lettre.pdf','69424b657d90366811b537e98bc5bbef5e86f3549c6bb5b1b4082835424fb1cf',15,X'255044462D312E34206C6574747265','2026-01-05 09:00:11.000000');
CREATE TABLE inbound (
	id INTEGER NOT NULL, 
	account VARCHAR(100) NOT NULL, 
	kind VARCHAR(40) NOT NULL, 
	remote_id VARCHAR(100) NOT NULL, 
	profile VARCHAR(100), 
	name TEXT, 
	digest VARCHAR(64) NOT NULL, 
	size BIGINT NOT NULL, 
	content BLOB NOT NULL, 
	info JSON NOT NULL, 
	received_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_inbound_content UNIQUE (account, kind, remote_id, digest)
);
INSERT INTO "inbound" VALUES(1,'s2low','pes_retour','9','ville','R.xml','949f9ab75ded40c3eb412050d7f9bb7e3075eeb86a997a786922d8c35db425cf',13,X'3C5045535F5265746F75722F3E','{"id_coll": "21440015200011"}','2026-01-05 09:00:13.000000');
CREATE TABLE journal (
	seq INTEGER NOT NULL, 
	at DATETIME NOT NULL, 
	transmission_id VARCHAR(36), 
	event VARCHAR(60) NOT NULL, 
	from_state VARCHAR(20), 
	to_state VARCHAR(20), 
	data TEXT NOT NULL, 
	prev_hash VARCHAR(64) NOT NULL, 
	hash VARCHAR(64) NOT NULL, 
	PRIMARY KEY (seq), 
	UNIQUE (prev_hash), 
	UNIQUE (hash)
);
INSERT INTO "journal" VALUES(1,'2026-01-05 09:00:01.000000','62924aac-4bfe-4c50-b52f-c85b37b5f0e5','recorded',NULL,'accepted','{"digest":"dde2e15b4d7963ecf9859de73f11c22d00333b2e0e835691b2a0f0b4f4275355","flow":"pes","identifiers":{"IdColl":"21440015200011","NomFic":"PES_1"},"name":"PES_1.xml","profile":"ville"}','0000000000000000000000000000000000000000000000000000000000000000','d2843d310cc648d2496479623c60e289b60458bdf5769e815acaf76241f2af92');
INSERT INTO "journal" VALUES(2,'2026-01-05 09:00:02.000000','62924aac-4bfe-4c50-b52f-c85b37b5f0e5','send_started','accepted','sending','{}','d2843d310cc648d2496479623c60e289b60458bdf5769e815acaf76241f2af92','0cef46654e53e48cc6e79509d6b1c30f180b85acec1ebe0925d495da43af4d5d');
INSERT INTO "journal" VALUES(3,'2026-01-05 09:00:03.000000','62924aac-4bfe-4c50-b52f-c85b37b5f0e5','submitted','sending','sent','{"remote_id":"41","remote_status":"2"}','0cef46654e53e48cc6e79509d6b1c30f180b85acec1ebe0925d495da43af4d5d','173e5dd9fd47f3d49b82e795c193b92d421f28f4dd24e37da155dee4bd2fd88e');
INSERT INTO "journal" VALUES(4,'2026-01-05 09:00:04.000000','62924aac-4bfe-4c50-b52f-c85b37b5f0e5','ack_ok','sent','acknowledged','{"documents":[{"digest":"7f4e278d28bbd10b186bc5051c9c1142a4986656e74093f818ec97499ddc493d","kind":"ack","name":"ACK_PES_1.xml","size":27}],"remote_status":"5"}','173e5dd9fd47f3d49b82e795c193b92d421f28f4dd24e37da155dee4bd2fd88e','e2f9c9f4f597898f1d720c9842762ffeba40b56717ae879b52927716c756663a');
INSERT INTO "journal" VALUES(5,'2026-01-05 09:00:05.000000','ce036ac3-a65e-4d60-8862-be80594be3c0','recorded',NULL,'accepted','{"digest":"3f0fadb57c46f3ffcaf2ab057a42dabfcb345bfcd6c886df46ee191606e3d575","flow":"actes","identifiers":{"documents":[{"sha256":"c35b21d6ca39aa7cc3b79a705d989f1a6e88b99ab43988d74048799e3db926a3"}],"numero":"D1"},"name":"D1 - Budget","profile":"ville"}','e2f9c9f4f597898f1d720c9842762ffeba40b56717ae879b52927716c756663a','c9c9df7036df55bde866c8261d817e9d574ef46f7d7b5eb6f07f0b61b39d330e');
INSERT INTO "journal" VALUES(6,'2026-01-05 09:00:06.000000','ce036ac3-a65e-4d60-8862-be80594be3c0','send_started','accepted','sending','{}','c9c9df7036df55bde866c8261d817e9d574ef46f7d7b5eb6f07f0b61b39d330e','aeec49fc6c011d813c9e6adf11b6dc3142f406fff28d09b48ea1162708f89b6e');
INSERT INTO "journal" VALUES(7,'2026-01-05 09:00:07.000000','ce036ac3-a65e-4d60-8862-be80594be3c0','outcome_unknown','sending','unknown','{"error":"timeout"}','aeec49fc6c011d813c9e6adf11b6dc3142f406fff28d09b48ea1162708f89b6e','6405e7595848575250f6bc6f28f25cdbb976c380c0c586eacd34e57ada812a73');
INSERT INTO "journal" VALUES(8,'2026-01-05 09:00:08.000000','ce036ac3-a65e-4d60-8862-be80594be3c0','found','unknown','sent','{"remote_id":"77"}','6405e7595848575250f6bc6f28f25cdbb976c380c0c586eacd34e57ada812a73','3b578b8e0854d9ae19897c9502db1623d31273a165ba8174d00eab532e77ec02');
INSERT INTO "journal" VALUES(9,'2026-01-05 09:00:09.000000','ce036ac3-a65e-4d60-8862-be80594be3c0','progress','sent','sent','{"previous_remote_id":"77","remote_id":"78","remote_status":"1"}','3b578b8e0854d9ae19897c9502db1623d31273a165ba8174d00eab532e77ec02','bbf73a043c9ffcf5c1c40a0fbbea3a4b5279be8512c775dd02d96ad770479cc5');
INSERT INTO "journal" VALUES(10,'2026-01-05 09:00:10.000000','ce036ac3-a65e-4d60-8862-be80594be3c0','ack_ok','sent','acknowledged','{"documents":[{"digest":"7d05fe66484f96d6dc4f7f8055cc02bd8f111143f05ccb41f5cca8ba0380633a","kind":"aracte","name":"ar.xml","size":9}],"remote_status":"4"}','bbf73a043c9ffcf5c1c40a0fbbea3a4b5279be8512c775dd02d96ad770479cc5','23a3f042720fc17ae3e5dfe9dc1f437de77a5ef23c49fae41de5a05247413796');
INSERT INTO "journal" VALUES(11,'2026-01-05 09:00:11.000000','ce036ac3-a65e-4d60-8862-be80594be3c0','document_received','acknowledged','acknowledged','{"digest":"69424b657d90366811b537e98bc5bbef5e86f3549c6bb5b1b4082835424fb1cf","kind":"courrier","name":"lettre.pdf","size":15}','23a3f042720fc17ae3e5dfe9dc1f437de77a5ef23c49fae41de5a05247413796','c7656486f3839ae34080e96a6e1b25ff1fa0b5fea714afdeda9f688723e17bdb');
INSERT INTO "journal" VALUES(12,'2026-01-05 09:00:12.000000','1caacf23-dddf-4a43-9b74-81cee1625139','resent',NULL,'accepted','{"digest":"dde2e15b4d7963ecf9859de73f11c22d00333b2e0e835691b2a0f0b4f4275355","flow":"pes","generation":1,"identifiers":{},"name":"PES_1.xml","profile":"ville","resend_of":"62924aac-4bfe-4c50-b52f-c85b37b5f0e5"}','c7656486f3839ae34080e96a6e1b25ff1fa0b5fea714afdeda9f688723e17bdb','9a3f99923390944f13a311f33061deb333193443e2dd5efe16d6b33974eb2a1c');
INSERT INTO "journal" VALUES(13,'2026-01-05 09:00:13.000000',NULL,'inbound_received',NULL,NULL,'{"account":"s2low","digest":"949f9ab75ded40c3eb412050d7f9bb7e3075eeb86a997a786922d8c35db425cf","info":{"id_coll":"21440015200011"},"kind":"pes_retour","name":"R.xml","profile":"ville","remote_id":"9","size":13}','9a3f99923390944f13a311f33061deb333193443e2dd5efe16d6b33974eb2a1c','d181316ed848d4e9d96278d11a4a1e552b687d380ef212435000c7220032ab25');
CREATE TABLE journal_head (
	id INTEGER NOT NULL, 
	seq BIGINT NOT NULL, 
	hash VARCHAR(64) NOT NULL, 
	PRIMARY KEY (id)
);
INSERT INTO "journal_head" VALUES(1,13,'d181316ed848d4e9d96278d11a4a1e552b687d380ef212435000c7220032ab25');
CREATE TABLE schema_version (
	version INTEGER NOT NULL, 
	description TEXT NOT NULL, 
	applied_at DATETIME NOT NULL, 
	PRIMARY KEY (version)
);
INSERT INTO "schema_version" VALUES(1,'transmissions, documents, journal','2026-01-05 09:00:00.000000');
INSERT INTO "schema_version" VALUES(2,'journal head at genesis','2026-01-05 09:00:00.000000');
INSERT INTO "schema_version" VALUES(3,'inbound documents (PES_Retour)','2026-01-05 09:00:00.000000');
CREATE TABLE transmissions (
	id VARCHAR(36) NOT NULL, 
	profile VARCHAR(100) NOT NULL, 
	flow VARCHAR(20) NOT NULL, 
	digest VARCHAR(64) NOT NULL, 
	generation INTEGER NOT NULL, 
	name TEXT NOT NULL, 
	identifiers JSON NOT NULL, 
	remote_id VARCHAR(100), 
	remote_status VARCHAR(40), 
	state VARCHAR(20) NOT NULL, 
	attempts INTEGER NOT NULL, 
	errors INTEGER NOT NULL, 
	last_error TEXT, 
	next_attempt_at DATETIME, 
	lease_owner VARCHAR(100), 
	lease_until DATETIME, 
	created_at DATETIME NOT NULL, 
	updated_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_transmissions_document UNIQUE (profile, flow, digest, generation)
);
INSERT INTO "transmissions" VALUES('62924aac-4bfe-4c50-b52f-c85b37b5f0e5','ville','pes','dde2e15b4d7963ecf9859de73f11c22d00333b2e0e835691b2a0f0b4f4275355',0,'PES_1.xml','{"NomFic": "PES_1", "IdColl": "21440015200011"}','41','5','acknowledged',0,0,NULL,NULL,NULL,NULL,'2026-01-05 09:00:01.000000','2026-01-05 09:00:04.000000');
INSERT INTO "transmissions" VALUES('ce036ac3-a65e-4d60-8862-be80594be3c0','ville','actes','3f0fadb57c46f3ffcaf2ab057a42dabfcb345bfcd6c886df46ee191606e3d575',0,'D1 - Budget','{"numero": "D1", "documents": [{"sha256": "c35b21d6ca39aa7cc3b79a705d989f1a6e88b99ab43988d74048799e3db926a3"}]}','78','4','acknowledged',0,0,NULL,NULL,NULL,NULL,'2026-01-05 09:00:05.000000','2026-01-05 09:00:10.000000');
INSERT INTO "transmissions" VALUES('1caacf23-dddf-4a43-9b74-81cee1625139','ville','pes','dde2e15b4d7963ecf9859de73f11c22d00333b2e0e835691b2a0f0b4f4275355',1,'PES_1.xml','{}',NULL,NULL,'accepted',0,0,NULL,'2026-01-05 09:00:12.000000',NULL,NULL,'2026-01-05 09:00:12.000000','2026-01-05 09:00:12.000000');
CREATE INDEX ix_transmissions_profile_state ON transmissions (profile, state);
CREATE INDEX ix_transmissions_due ON transmissions (state, next_attempt_at);
CREATE INDEX ix_transmissions_remote ON transmissions (flow, remote_id);
CREATE INDEX ix_inbound_profile ON inbound (profile, received_at);
CREATE INDEX ix_journal_transmission ON journal (transmission_id, seq);
COMMIT;
