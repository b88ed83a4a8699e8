-- want: load
-- not Lua at all: binary-looking garbage and unbalanced brackets
return {{{ ]] ;; @@ 0x 1..2 function end end
