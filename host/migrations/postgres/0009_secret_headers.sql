-- A secret can be attached to an outbound HTTP host as a request header: the
-- broker adds it to the plugin's requests to that host, and the plugin never
-- sees it (it is not merged into the plugin's configuration).
ALTER TABLE plugin_secrets ADD COLUMN header_host TEXT;
ALTER TABLE plugin_secrets ADD COLUMN header_name TEXT;
