-- want: load
-- runs another file with dofile
return dofile("/etc/passwd")
