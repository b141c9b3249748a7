"""HTTP to Insightly v3.1: connection, client, paging, pacing, write outcomes, time stamps."""
