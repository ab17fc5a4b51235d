// Job state is one node per job name, written by every scheduler: MERGE needs the key unique.
CREATE CONSTRAINT job_state_name IF NOT EXISTS FOR (n:JobState) REQUIRE n.name IS UNIQUE
