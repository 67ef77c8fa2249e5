"""Router's HTTP surface behind the gateway: dispatcher actions (/routing), master-data reads
(/departments, /categories, /jurisdictions) and data corrections (/corrections)."""
