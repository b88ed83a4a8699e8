-- want: call
-- key returns 251 bytes, over MaxKeyLen
return { user = { key = function(call) return ("k"):rep(250) .. call.args[1] end } }
