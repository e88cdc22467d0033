-- Schema version 4: the images of current (not deleted) resources counted
-- per namespace, kept by the writer in the batch that changes them: the
-- images page reads these instead of every resource image joined with its
-- resource.
CREATE TABLE image_usage (
  namespace_id BIGINT NOT NULL REFERENCES namespaces(id) ON DELETE CASCADE,
  ref          TEXT   NOT NULL,
  digest       TEXT   NOT NULL,
  cluster_id   BIGINT NOT NULL,
  resources    BIGINT NOT NULL,
  PRIMARY KEY (namespace_id, ref, digest)
);
INSERT INTO image_usage (namespace_id, ref, digest, cluster_id, resources)
  SELECT r.namespace_id, i.ref, i.digest, MIN(r.cluster_id), COUNT(DISTINCT i.resource_id)
  FROM resource_images i JOIN resources r ON r.id = i.resource_id
  WHERE r.deleted_at IS NULL GROUP BY r.namespace_id, i.ref, i.digest;
