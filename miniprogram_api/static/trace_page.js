// "用我的位置核验": ask the browser for its location (the visitor's consent is the browser's
// prompt) and scan again with it, rounded to about 1 km, so a code copied and sold far away is
// caught also from phone cameras, not only from the mini-program.
(function () {
  var button = document.getElementById("locate-button");
  var status = document.getElementById("locate-status");
  if (!button) return;
  if (!navigator.geolocation || !window.isSecureContext) {  // browsers locate over https only
    button.hidden = true;
    status.textContent = "此浏览器不支持定位，查询结果不受影响。";
    return;
  }
  button.addEventListener("click", function () {
    button.disabled = true;
    status.textContent = "正在获取位置…";
    navigator.geolocation.getCurrentPosition(
      function (position) {
        var lat = position.coords.latitude.toFixed(2);
        var lon = position.coords.longitude.toFixed(2);
        window.location.replace(button.dataset.url + "?lat=" + lat + "&lon=" + lon);
      },
      function () {
        button.disabled = false;
        status.textContent = "未获得位置授权，查询结果不受影响。";
      },
      { enableHighAccuracy: false, timeout: 10000, maximumAge: 600000 }
    );
  });
})();
