-- Portcullis findings store, schema version 1 (SQLite).
-- Times are Unix milliseconds (UTC); day is the UTC day number (Unix days).
CREATE TABLE clusters (
  id         INTEGER PRIMARY KEY,
  name       TEXT    NOT NULL UNIQUE,
  first_seen BIGINT  NOT NULL,
  last_seen  BIGINT  NOT NULL
);
CREATE TABLE namespaces (
  id         INTEGER PRIMARY KEY,
  cluster_id BIGINT  NOT NULL REFERENCES clusters(id) ON DELETE CASCADE,
  name       TEXT    NOT NULL,
  UNIQUE (cluster_id, name)
);
CREATE TABLE resources (
  id           INTEGER PRIMARY KEY,
  cluster_id   BIGINT  NOT NULL REFERENCES clusters(id) ON DELETE CASCADE,
  namespace_id BIGINT  NOT NULL REFERENCES namespaces(id) ON DELETE CASCADE,
  uid          TEXT    NOT NULL,
  api_version  TEXT    NOT NULL,
  kind         TEXT    NOT NULL,
  name         TEXT    NOT NULL,
  first_seen   BIGINT  NOT NULL,
  last_seen    BIGINT  NOT NULL,
  deleted_at   BIGINT,
  UNIQUE (cluster_id, uid)
);
CREATE INDEX resources_namespace ON resources (namespace_id, kind, name);
CREATE INDEX resources_deleted ON resources (deleted_at);
CREATE TABLE resource_images (
  resource_id BIGINT  NOT NULL REFERENCES resources(id) ON DELETE CASCADE,
  position    INTEGER NOT NULL,
  ref         TEXT    NOT NULL,
  digest      TEXT    NOT NULL,
  PRIMARY KEY (resource_id, position)
);
CREATE INDEX resource_images_ref ON resource_images (ref, digest);
CREATE TABLE policies (
  id         INTEGER PRIMARY KEY,
  cluster_id BIGINT  NOT NULL REFERENCES clusters(id) ON DELETE CASCADE,
  kind       TEXT    NOT NULL,
  name       TEXT    NOT NULL,
  title      TEXT    NOT NULL DEFAULT '',
  severity   TEXT    NOT NULL DEFAULT '',
  category   TEXT    NOT NULL DEFAULT '',
  generation BIGINT  NOT NULL DEFAULT 0,
  hash       TEXT    NOT NULL DEFAULT '',
  first_seen BIGINT  NOT NULL,
  last_seen  BIGINT  NOT NULL,
  UNIQUE (cluster_id, kind, name)
);
CREATE TABLE rules (
  id        INTEGER PRIMARY KEY,
  policy_id BIGINT  NOT NULL REFERENCES policies(id) ON DELETE CASCADE,
  name      TEXT    NOT NULL,
  UNIQUE (policy_id, name)
);
CREATE TABLE results (
  resource_id  BIGINT  NOT NULL REFERENCES resources(id) ON DELETE CASCADE,
  rule_id      BIGINT  NOT NULL REFERENCES rules(id) ON DELETE CASCADE,
  image        TEXT    NOT NULL,
  ord          INTEGER NOT NULL,
  cluster_id   BIGINT  NOT NULL,
  namespace_id BIGINT  NOT NULL,
  policy_id    BIGINT  NOT NULL,
  status       TEXT    NOT NULL,
  severity     TEXT    NOT NULL,
  category     TEXT    NOT NULL,
  message      TEXT    NOT NULL,
  path         TEXT    NOT NULL,
  digest       TEXT    NOT NULL,
  enforce      BOOLEAN NOT NULL,
  since        BIGINT  NOT NULL,
  written      BIGINT  NOT NULL,
  PRIMARY KEY (resource_id, rule_id, image, ord)
);
CREATE INDEX results_namespace ON results (cluster_id, namespace_id, status);
CREATE INDEX results_policy ON results (policy_id, rule_id, status);
CREATE INDEX results_status ON results (status, severity);
CREATE TABLE transitions (
  id           INTEGER PRIMARY KEY,
  cluster_id   BIGINT  NOT NULL,
  namespace_id BIGINT  NOT NULL,
  resource_id  BIGINT  NOT NULL REFERENCES resources(id) ON DELETE CASCADE,
  rule_id      BIGINT  NOT NULL REFERENCES rules(id) ON DELETE CASCADE,
  type         TEXT    NOT NULL,
  status       TEXT    NOT NULL,
  severity     TEXT    NOT NULL,
  message      TEXT    NOT NULL,
  path         TEXT    NOT NULL,
  image        TEXT    NOT NULL,
  reason       TEXT    NOT NULL,
  at           BIGINT  NOT NULL,
  day          INTEGER NOT NULL
);
CREATE INDEX transitions_resource ON transitions (resource_id, at);
CREATE INDEX transitions_day ON transitions (day, cluster_id, namespace_id, type);
CREATE INDEX transitions_at ON transitions (at);
CREATE TABLE image_verdicts (
  cluster_id BIGINT NOT NULL REFERENCES clusters(id) ON DELETE CASCADE,
  ref        TEXT   NOT NULL,
  digest     TEXT   NOT NULL,
  rule_id    BIGINT NOT NULL REFERENCES rules(id) ON DELETE CASCADE,
  status     TEXT   NOT NULL,
  message    TEXT   NOT NULL,
  at         BIGINT NOT NULL,
  PRIMARY KEY (cluster_id, ref, digest, rule_id)
);
CREATE INDEX image_verdicts_at ON image_verdicts (at);
CREATE TABLE daily (
  cluster_id   BIGINT  NOT NULL,
  namespace_id BIGINT  NOT NULL REFERENCES namespaces(id) ON DELETE CASCADE,
  day          INTEGER NOT NULL,
  pass         BIGINT  NOT NULL,
  fail         BIGINT  NOT NULL,
  warn         BIGINT  NOT NULL,
  error        BIGINT  NOT NULL,
  skip         BIGINT  NOT NULL,
  PRIMARY KEY (day, cluster_id, namespace_id)
);
CREATE TABLE scans (
  id         INTEGER PRIMARY KEY,
  cluster_id BIGINT  NOT NULL REFERENCES clusters(id) ON DELETE CASCADE,
  source     TEXT    NOT NULL,
  started    BIGINT  NOT NULL,
  finished   BIGINT  NOT NULL,
  resources  BIGINT  NOT NULL,
  pass       BIGINT  NOT NULL,
  fail       BIGINT  NOT NULL,
  warn       BIGINT  NOT NULL,
  error      BIGINT  NOT NULL,
  skip       BIGINT  NOT NULL
);
CREATE INDEX scans_finished ON scans (finished);
